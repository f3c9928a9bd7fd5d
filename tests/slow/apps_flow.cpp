// The stage-2 binaries as a user runs them: --help, bad flags, and train_flow end to end on a
// small synthetic code set (correlated, non-Gaussian), where the flow must beat N(0, I).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <nlohmann/json.hpp>

#include "apps/common/flow_io.h"
#include "engine/checkpoint.h"
#include "models/flow/evaluate.h"
#include "ops/ops.h"

namespace kite {
namespace {

int run(const std::string& command) {
  int status = std::system((command + " > /dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string app(const std::string& name) { return std::string(KITE_APPS_DIR) + "/" + name; }

TEST(AppsFlow, HelpAndBadFlags) {
  EXPECT_EQ(run(app("train_flow") + " --help"), 0);
  EXPECT_EQ(run(app("train_flow") + " --no-such-flag"), 2);
  EXPECT_EQ(run(app("train_flow") + " --codes /nonexistent/codes.safetensors"), 1);
  EXPECT_EQ(run(app("train_flow") + " --codes x --base-components -1"), 2);
  EXPECT_EQ(run(app("gradcheck") + " --help"), 0);
}

// Codes with structure a Gaussian misses: x2 depends on x1 squared.
Tensor synthetic_codes(int64_t n, uint64_t seed) {
  Generator generator(seed);
  Tensor e = randn({n, 4}, DType::Float32, Device::cpu(), &generator);
  Tensor x1 = narrow(e, 1, 0, 1);
  Tensor x2 = square(x1) * 0.8 + narrow(e, 1, 1, 1) * 0.3;
  Tensor x3 = narrow(e, 1, 2, 1) + x1 * 0.5;
  Tensor x4 = tanh(narrow(e, 1, 3, 1) * 2.0);
  return contiguous(cat({x1, x2, x3, x4}, 1));
}

// A fresh folder `dir` holding codes.safetensors: n_train and n_test synthetic codes.
Checkpoint write_codes(const std::string& dir, int64_t n_train, int64_t n_test) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  Checkpoint codes;
  codes.tensors["codes_train"] = synthetic_codes(n_train, 1);
  codes.tensors["codes_test"] = synthetic_codes(n_test, 2);
  save_checkpoint(dir + "/codes.safetensors", codes);
  return codes;
}

// train_flow on dir's codes into dir/flow, with the settings both tests share.
std::string train_flow_command(const std::string& dir) {
  return app("train_flow") + " --codes " + dir + "/codes.safetensors --out " + dir +
         "/flow --batch 128 --lr 3e-3 --threads 2";
}

TEST(AppsFlow, TrainFlowBeatsStandardNormalAndInverts) {
  const std::string dir = ::testing::TempDir() + "/kite_train_flow_" + std::to_string(getpid());
  write_codes(dir, 3000, 1000);
  const std::string cmd =
      train_flow_command(dir) + " --blocks 4 --hidden 32 --warmup 20 --inverse-samples 1000";
  ASSERT_EQ(run(cmd + " --epochs 3"), 0) << cmd;
  std::ifstream in(dir + "/flow/metrics.json");
  ASSERT_TRUE(in.good());
  nlohmann::json metrics = nlohmann::json::parse(in);
  EXPECT_LT(metrics["test_nll_flow"].get<double>(), metrics["test_nll_normal"].get<double>());
  EXPECT_LT(metrics["inverse_max_residual"].get<double>(), 1e-4);
  EXPECT_LE(metrics["max_sigma"].get<double>(), 0.9 + 1e-3);
  EXPECT_TRUE(std::filesystem::exists(dir + "/flow/best.safetensors"));
  // Resume from the last checkpoint for one more epoch.
  EXPECT_EQ(run(cmd + " --epochs 4 --resume " + dir + "/flow/last.safetensors"), 0);
}

TEST(AppsFlow, MixtureBaseTrainsSavesAndLoads) {
  const std::string dir =
      ::testing::TempDir() + "/kite_train_flow_mixture_" + std::to_string(getpid());
  const Checkpoint codes = write_codes(dir, 2000, 500);
  const std::string cmd = train_flow_command(dir) +
                          " --blocks 2 --hidden 16 --warmup 10 --inverse-samples 500 --epochs 2 "
                          "--base-components 3";
  ASSERT_EQ(run(cmd), 0) << cmd;
  std::ifstream in(dir + "/flow/metrics.json");
  nlohmann::json metrics = nlohmann::json::parse(in);
  EXPECT_EQ(metrics["base_components"].get<int>(), 3);
  EXPECT_LT(metrics["test_nll_flow"].get<double>(), metrics["test_nll_gaussian"].get<double>());
  EXPECT_LT(metrics["inverse_max_residual"].get<double>(), 1e-4);
  // The checkpoint rebuilds the same model: its mixture base and the reported test NLL.
  apps::LoadedFlow flow = apps::load_flow(dir + "/flow/best.safetensors", Device::cpu());
  ASSERT_NE(flow.model->mixture_base(), nullptr);
  EXPECT_EQ(flow.model->mixture_base()->components(), 3);
  const double nll =
      flow::nll_per_dim(*flow.model, flow.standardizer.forward(codes.tensors.at("codes_test")));
  EXPECT_NEAR(nll, metrics["test_nll_flow"].get<double>(), 1e-6);
}

}  // namespace
}  // namespace kite
