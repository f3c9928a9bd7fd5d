// End to end: the train_vae binary on 256 synthetic shapes at 28x28 with a small learnt-gamma
// VAE (two optimizers, reparameterisation noise), so that the file runs in seconds. Checks: a
// run stopped part way and resumed, or interrupted with Ctrl-C and resumed, reproduces the
// per-step losses and the final weights and optimizer state of an uninterrupted run bit for
// bit; a resumed run keeps its settings; an existing run is not overwritten by accident; bad
// flags exit 2 with a one-line error.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/checkpoint.h"
#include "engine/tensor.h"
#include "resume_checks.h"
#include "run_binary.h"

namespace kite {
namespace {

namespace fs = std::filesystem;
using test_support::Process;
using test_support::read_file;
using test_support::Result;
using test_support::spawn;
using test_support::wait_for;

constexpr int kSteps = 12;  // 1.5 epochs of 8 batches of 32 images

class TrainVaeEndToEnd : public test_support::AppTest {
 protected:
  TrainVaeEndToEnd() : AppTest("train_vae") {}

  static std::vector<std::string> train_args(const fs::path& out, int steps,
                                             std::vector<std::string> extra = {}) {
    std::vector<std::string> args = test_support::tiny_vae_args(out, steps);
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // (loss, gamma) per step from a run's log.
  static std::vector<std::vector<double>> losses(const fs::path& out) {
    return test_support::logged_steps(out, {"loss", "gamma"});
  }

  const fs::path& straight_run() {
    static fs::path out;
    if (out.empty()) {
      out = suite_root_ / "straight";
      Result r = run(train_args(out, kSteps));
      EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    return out;
  }

  // Log, model, optimizer and the log-gamma optimizer's state ("extra.gamma_optim.*").
  void expect_same_as_straight_run(const fs::path& out) {
    test_support::expect_same_run(out, straight_run(), {"loss", "gamma"},
                                  {"extra.gamma_optim.step"});
  }
};

TEST_F(TrainVaeEndToEnd, ResumeReproducesTheLossSequenceBitForBit) {
  const auto straight = losses(straight_run());
  ASSERT_EQ(straight.size(), static_cast<size_t>(kSteps));
  EXPECT_LT(straight.back()[1], straight.front()[1]);  // gamma is learnt (it falls)
  const fs::path half = root_ / "half";
  // Stop mid-epoch (step 5 of 8) so that resuming must skip batches of the shuffled order.
  Result first = run(train_args(half, 5));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  Result second = run(train_args(half, kSteps, {"--resume"}));  // the same flags plus --resume
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("resumed from"), std::string::npos) << second.err;
  expect_same_as_straight_run(half);
  auto metrics = nlohmann::json::parse(read_file(half / "metrics.json"));
  EXPECT_EQ(metrics["steps"], kSteps);
}

TEST_F(TrainVaeEndToEnd, CtrlCSavesACheckpointExitsZeroAndResumesExactly) {
  const fs::path out = root_ / "interrupted";
  Process p = spawn("train_vae", train_args(out, 400, {"--checkpoint-every", "0"}), root_);
  Result r = test_support::interrupt_after_log_lines(p, out / "log.jsonl", 3);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("interrupted"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  ASSERT_TRUE(fs::exists(out / "last.safetensors"));
  const int64_t stopped =
      std::stoll(load_checkpoint((out / "last.safetensors").string()).metadata.at("step"));
  EXPECT_GE(stopped, 3);
  EXPECT_EQ(losses(out).size(), static_cast<size_t>(stopped));
  if (stopped >= kSteps)
    GTEST_SKIP() << "the run passed step " << kSteps << " before the signal arrived";
  Result resumed = run({"--resume", "--out", out.string(), "--steps", std::to_string(kSteps),
                        "--threads", "2", "--log-every", "1", "--plot-images", "64"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  expect_same_as_straight_run(out);
}

TEST_F(TrainVaeEndToEnd, CosineScheduleFollowsItsCurveAndResumesOnIt) {
  // --lr-schedule cosine: the logged lr of step k (k = 1..n) is lr0 (1 + cos(pi (k-1) / n)) / 2,
  // and a run interrupted with Ctrl-C continues on the same curve (the run's length comes
  // from the checkpoint), bit for bit.
  constexpr int kCosineSteps = 40;
  const double lr0 = 2e-3;
  const fs::path straight = root_ / "cosine_straight";
  ASSERT_EQ(run(train_args(straight, kCosineSteps, {"--lr-schedule", "cosine"})).exit_code, 0);
  const auto logged = test_support::logged_steps(straight, {"lr"});
  ASSERT_EQ(logged.size(), static_cast<size_t>(kCosineSteps));
  for (int k = 1; k <= kCosineSteps; ++k)
    EXPECT_NEAR(logged[k - 1][0], lr0 * (1 + std::cos(M_PI * (k - 1) / kCosineSteps)) / 2,
                1e-12 * lr0)
        << "lr at step " << k;
  const fs::path out = root_ / "cosine_interrupted";
  Process p = spawn(
      "train_vae",
      train_args(out, kCosineSteps, {"--lr-schedule", "cosine", "--checkpoint-every", "0"}), root_);
  Result r = test_support::interrupt_after_log_lines(p, out / "log.jsonl", 3);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  if (test_support::checkpoint_step(out) >= kCosineSteps)
    GTEST_SKIP() << "the run ended before the signal arrived";
  Result resumed = run({"--resume", "--out", out.string(), "--threads", "2", "--log-every", "1",
                        "--plot-images", "64"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  test_support::expect_same_run(out, straight, {"loss", "gamma", "lr"}, {"extra.gamma_optim.step"});
}

TEST_F(TrainVaeEndToEnd, ResumeKeepsItsSettingsAndRunsAreNotOverwritten) {
  const fs::path out = root_ / "settings";
  ASSERT_EQ(run(train_args(out, 2)).exit_code, 0);
  Result again = run(train_args(out, 2));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;
  Result changed = run({"--resume", "--out", out.string(), "--lr", "1e-4", "--steps", "4"});
  EXPECT_EQ(changed.exit_code, 1);
  EXPECT_NE(changed.err.find("--lr 0.0001 differs"), std::string::npos) << changed.err;
  Result data = run({"--resume", "--out", out.string(), "--train-limit", "128"});
  EXPECT_EQ(data.exit_code, 1);
  EXPECT_NE(data.err.find("dataset flags differ"), std::string::npos) << data.err;
  Result sweep = run({"--resume", "--out", out.string(), "--gamma-sweep", "0,1"});
  EXPECT_EQ(sweep.exit_code, 1);
  EXPECT_NE(sweep.err.find("--gamma-sweep"), std::string::npos) << sweep.err;
  Result nothing = run({"--resume", "--out", (root_ / "empty").string()});
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_NE(nothing.err.find("no checkpoint"), std::string::npos) << nothing.err;
  for (const Result& r : {again, changed, data, sweep, nothing})
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  Result fresh = run(train_args(out, 1, {"--overwrite"}));
  EXPECT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_EQ(losses(out).size(), 1u);
}

TEST_F(TrainVaeEndToEnd, BadFlagsExitTwoAndHelpListsTheFlags) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--gamma", "-1"},
                                             {"--checkpoint-every", "-3"},
                                             {"--lr-schedule", "linear"},
                                             {"--no-such-flag"}}) {
    Result r = run(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find("train_vae"), std::string::npos) << r.err;
  }
  Result help = run({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--gamma", "--learn-gamma", "--lr-schedule", "--resume", "--overwrite",
                           "--checkpoint-every", "--gamma-sweep"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace kite
