// End to end: the train_ae, encode and reconstruct binaries on a 512-image subset of the
// synthetic shapes at 28x28 (always available), with a small autoencoder so that the whole file
// runs in seconds. Checks: the loss decreases; a run stopped half way and resumed, or
// interrupted with Ctrl-C and resumed, reproduces the per-step losses and the final weights of
// an uninterrupted run bit for bit (with denoising on, so the augmentation stream must be
// restored too); exit codes and one-line errors for bad flags, a missing dataset, a corrupt
// checkpoint and changed settings on resume; --learn-gamma's gamma moves toward the MSE and
// resumes exactly; encode and reconstruct outputs.
//
// The binaries are found next to this test's build folder (<build>/apps/); the test skips,
// saying so, when they have not been built.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/checkpoint.h"
#include "engine/tensor.h"
#include "run_binary.h"

namespace kite {
namespace {

namespace fs = std::filesystem;

constexpr int kSteps = 16;  // 2 epochs of 8 batches of 64 images

using kite::test_support::Process;
using kite::test_support::read_file;
using kite::test_support::Result;
using kite::test_support::spawn;
using kite::test_support::wait_for;

class TrainAeEndToEnd : public test_support::AppTest {
 protected:
  TrainAeEndToEnd() : AppTest("train_ae") {}

  // The small training run every test uses: shapes 28x28, 512 train / 128 test images,
  // widths 8,16, latent 4, batch 64, denoising on, a per-step log.
  std::vector<std::string> train_args(const fs::path& out, int steps,
                                      std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"--dataset",
                                     "shapes",
                                     "--image-size",
                                     "28",
                                     "--train-limit",
                                     "512",
                                     "--test-limit",
                                     "128",
                                     "--channels",
                                     "8,16",
                                     "--latent",
                                     "4",
                                     "--lr",
                                     "2e-3",
                                     "--denoise",
                                     "--latent-noise",
                                     "0.1",
                                     "--log-every",
                                     "1",
                                     "--threads",
                                     "2",
                                     "--seed",
                                     "7",
                                     "--steps",
                                     std::to_string(steps),
                                     "--out",
                                     out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // The per-step losses of a run's log, in step order, checking that the steps are 1..n.
  static std::vector<double> losses(const fs::path& out) {
    std::vector<double> values;
    std::ifstream in(out / "log.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      auto record = nlohmann::json::parse(line);
      if (record.contains("event")) continue;
      EXPECT_EQ(record["step"].get<int64_t>(), static_cast<int64_t>(values.size()) + 1) << line;
      values.push_back(record["loss"].get<double>());
    }
    return values;
  }

  static std::map<std::string, Tensor> model_tensors(const fs::path& checkpoint) {
    std::map<std::string, Tensor> out;
    for (auto& [name, t] : load_checkpoint(checkpoint.string()).tensors)
      if (name.rfind("model.", 0) == 0 || name.rfind("optim.", 0) == 0 ||
          name.rfind("extra.", 0) == 0)
        out[name] = t;
    return out;
  }

  static void expect_identical_checkpoints(const fs::path& a, const fs::path& b) {
    auto ta = model_tensors(a), tb = model_tensors(b);
    ASSERT_EQ(ta.size(), tb.size());
    for (auto& [name, t] : ta) {
      ASSERT_TRUE(tb.count(name)) << name;
      EXPECT_EQ(to_double_vector(t), to_double_vector(tb[name])) << name;
    }
  }

  // One uninterrupted run, shared by the tests that compare against it.
  const fs::path& straight_run() {
    if (straight_.empty()) {
      straight_ = suite_root_ / "straight";
      Result r = run("train_ae", train_args(straight_, kSteps));
      EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    return straight_;
  }

  static inline fs::path straight_;
};

TEST_F(TrainAeEndToEnd, LossDecreasesAndOutputsAreWritten) {
  const fs::path& out = straight_run();
  std::vector<double> l = losses(out);
  ASSERT_EQ(l.size(), static_cast<size_t>(kSteps));
  const double first = (l[0] + l[1] + l[2]) / 3,
               last = (l[kSteps - 1] + l[kSteps - 2] + l[kSteps - 3]) / 3;
  EXPECT_LT(last, 0.5 * first) << "loss went from " << first << " to " << last;

  auto metrics = nlohmann::json::parse(read_file(out / "metrics.json"));
  EXPECT_EQ(metrics["steps"], kSteps);
  EXPECT_EQ(metrics["epochs_completed"], 2);
  EXPECT_GT(metrics["test_mse"].get<double>(), 0.0);
  EXPECT_LT(metrics["test_mse"].get<double>(), 0.5);
  EXPECT_NEAR(metrics["test_sse_per_image"].get<double>(),
              metrics["test_mse"].get<double>() * 28 * 28, 1e-6);
  EXPECT_LE(metrics["test_mse_clipped"].get<double>(), metrics["test_mse"].get<double>() + 1e-12);
  EXPECT_GT(metrics["peak_rss_mib"].get<double>(), 1.0);
  EXPECT_TRUE(fs::exists(out / "last.safetensors"));
  EXPECT_TRUE(fs::exists(out / "best.safetensors"));
  // One evaluation record per epoch.
  int evals = 0;
  std::ifstream in(out / "log.jsonl");
  for (std::string line; std::getline(in, line);)
    evals += nlohmann::json::parse(line).contains("event");
  EXPECT_EQ(evals, 2);
}

TEST_F(TrainAeEndToEnd, ResumeReproducesTheLossSequenceBitForBit) {
  const fs::path half = root_ / "half";
  // Stop mid-epoch (step 5 of 8) so that resuming must skip batches of the shuffled order.
  Result first = run("train_ae", train_args(half, 5));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  Result second = run("train_ae", train_args(half, kSteps, {"--resume"}));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("resumed from"), std::string::npos) << second.err;

  const std::vector<double> expected = losses(straight_run()), got = losses(half);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "step " << i + 1;
  expect_identical_checkpoints(half / "last.safetensors", straight_run() / "last.safetensors");
}

TEST_F(TrainAeEndToEnd, CtrlCSavesACheckpointExitsZeroAndResumesExactly) {
  const fs::path out = root_ / "interrupted";
  // Many more steps than we let it run, so the signal surely arrives mid-run.
  Process p = spawn("train_ae", train_args(out, 400, {"--checkpoint-every", "0"}), root_);
  Result r = test_support::interrupt_after_log_lines(p, out / "log.jsonl", 3);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("interrupted"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  ASSERT_TRUE(fs::exists(out / "last.safetensors"));
  const auto meta = load_checkpoint((out / "last.safetensors").string()).metadata;
  const int64_t stopped = std::stoll(meta.at("step"));
  EXPECT_GE(stopped, 3);
  EXPECT_LT(stopped, 400);
  EXPECT_EQ(losses(out).size(), static_cast<size_t>(stopped));
  if (stopped >= kSteps)
    GTEST_SKIP() << "the run passed step " << kSteps << " before the signal arrived";

  Result resumed = run("train_ae", train_args(out, kSteps, {"--resume"}));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const std::vector<double> expected = losses(straight_run()), got = losses(out);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "step " << i + 1;
  expect_identical_checkpoints(out / "last.safetensors", straight_run() / "last.safetensors");
}

TEST_F(TrainAeEndToEnd, LearntGammaFollowsTheMseAndResumesExactly) {
  const fs::path straight = root_ / "gamma_straight", half = root_ / "gamma_half";
  Result r = run("train_ae", train_args(straight, kSteps, {"--learn-gamma"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("learnt gamma"), std::string::npos) << r.err;
  // Same initialisation and data: the first batch's MSE is the plain run's, the steps differ.
  const std::vector<double> plain = losses(straight_run()), learnt = losses(straight);
  ASSERT_EQ(learnt.size(), static_cast<size_t>(kSteps));
  EXPECT_EQ(learnt[0], plain[0]);
  EXPECT_NE(learnt[kSteps - 1], plain[kSteps - 1]);

  // gamma starts at 1 and moves towards the MSE by about 1% a step (log gamma's own Adam at
  // lr 1e-2: its first step is exactly 0.01 in log gamma, up here, since the untrained
  // decoder's first MSE is above 1), then falls every step while the MSE is far below it.
  std::vector<double> gamma;
  std::ifstream in(straight / "log.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto record = nlohmann::json::parse(line);
    if (!record.contains("event")) gamma.push_back(record.at("gamma").get<double>());
  }
  ASSERT_EQ(gamma.size(), static_cast<size_t>(kSteps));
  ASSERT_GT(learnt[0], 1.0);
  EXPECT_NEAR(gamma[0], std::exp(0.01), 1e-6);
  for (int k = 2; k < kSteps; ++k) EXPECT_LT(gamma[k], gamma[k - 1]) << "step " << k + 1;
  EXPECT_GT(gamma[kSteps - 1], learnt[kSteps - 1]);
  const auto metrics = nlohmann::json::parse(read_file(straight / "metrics.json"));
  EXPECT_DOUBLE_EQ(metrics.at("gamma").get<double>(), gamma[kSteps - 1]);
  EXPECT_TRUE(metrics["config"]["train"]["learn_gamma"].get<bool>());

  // Stopped mid-epoch and resumed (--learn-gamma comes from the checkpoint): the same losses
  // and the same weights, log gamma and both optimizers' states.
  ASSERT_EQ(run("train_ae", train_args(half, 5, {"--learn-gamma"})).exit_code, 0);
  Result resumed = run("train_ae", train_args(half, kSteps, {"--resume"}));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(losses(half), learnt);
  const auto tensors = model_tensors(half / "last.safetensors");
  EXPECT_TRUE(tensors.count("extra.log_gamma"));
  expect_identical_checkpoints(half / "last.safetensors", straight / "last.safetensors");
  // A learnt-gamma run cannot be resumed as a plain one.
  Result changed = run("train_ae", {"--resume", "--out", half.string(), "--steps",
                                    std::to_string(kSteps + 1), "--learn-gamma=false"});
  EXPECT_EQ(changed.exit_code, 1);
  EXPECT_NE(changed.err.find("--learn-gamma"), std::string::npos) << changed.err;
}

TEST_F(TrainAeEndToEnd, CorruptCheckpointGivesAClearError) {
  const fs::path out = root_ / "corrupt";
  ASSERT_EQ(run("train_ae", train_args(out, 2)).exit_code, 0);
  const fs::path checkpoint = out / "last.safetensors";
  fs::resize_file(checkpoint, fs::file_size(checkpoint) / 2);
  Result r = run("train_ae", train_args(out, 4, {"--resume"}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;  // one line
  EXPECT_NE(r.err.find("checkpoint"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(checkpoint.string()), std::string::npos) << r.err;
  // encode reports it the same way.
  Result e = run("encode", {"--checkpoint", checkpoint.string()});
  EXPECT_EQ(e.exit_code, 1);
  EXPECT_NE(e.err.find(checkpoint.string()), std::string::npos) << e.err;
}

TEST_F(TrainAeEndToEnd, BadFlagsExitTwoAndMissingDataExitsOne) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--batch", "abc"},
                                               {"--device", "gpu"},
                                               {"--dataset", "imagenet"},
                                               {"--lr", "-1"},
                                               {"--latent-noise", "-0.5"},
                                               {"--gamma-lr", "0"},
                                               {"--no-such-flag"}}) {
    Result r = run("train_ae", args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find("train_ae"), std::string::npos) << r.err;
  }
  Result help = run("train_ae", {"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--device", "--seed", "--out", "--resume", "--denoise", "--latent-noise",
                           "--learn-gamma", "--gamma-lr", "--steps", "--epochs"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;

  const std::string missing = (root_ / "no" / "fashion-mnist").string();
  Result r = run("train_ae", {"--data", missing, "--out", (root_ / "missing").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
}

TEST_F(TrainAeEndToEnd, CosineScheduleFollowsItsCurve) {
  // --lr-schedule cosine: the lr logged at step k (k = 1..n) is lr0 (1 + cos(pi (k-1) / n)) / 2.
  constexpr int kCosineSteps = 8;
  const fs::path out = root_ / "cosine";
  Result r = run("train_ae", train_args(out, kCosineSteps, {"--lr-schedule", "cosine"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<double> lr;
  std::ifstream in(out / "log.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto record = nlohmann::json::parse(line);
    if (record.contains("lr")) lr.push_back(record["lr"].get<double>());
  }
  ASSERT_EQ(lr.size(), static_cast<size_t>(kCosineSteps));
  for (int k = 1; k <= kCosineSteps; ++k)
    EXPECT_NEAR(lr[k - 1], 2e-3 * (1 + std::cos(M_PI * (k - 1) / kCosineSteps)) / 2, 1e-15)
        << "lr at step " << k;
}

TEST_F(TrainAeEndToEnd, ResumeKeepsItsSettingsAndRunsAreNotOverwritten) {
  const fs::path out = root_ / "settings";
  ASSERT_EQ(run("train_ae", train_args(out, 2)).exit_code, 0);
  Result again = run("train_ae", train_args(out, 2));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;
  Result changed =
      run("train_ae", {"--resume", "--out", out.string(), "--batch", "32", "--steps", "4"});
  EXPECT_EQ(changed.exit_code, 1);
  EXPECT_NE(changed.err.find("--batch 32"), std::string::npos) << changed.err;
  Result schedule = run("train_ae", {"--resume", "--out", out.string(), "--lr-schedule", "cosine"});
  EXPECT_EQ(schedule.exit_code, 1);
  EXPECT_NE(schedule.err.find("--lr-schedule \"cosine\" differs"), std::string::npos)
      << schedule.err;
  Result nothing = run("train_ae", {"--resume", "--out", (root_ / "empty").string()});
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_NE(nothing.err.find("no checkpoint"), std::string::npos) << nothing.err;
  // --overwrite starts afresh.
  Result fresh = run("train_ae", train_args(out, 1, {"--overwrite"}));
  EXPECT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_EQ(losses(out).size(), 1u);
}

TEST_F(TrainAeEndToEnd, EncodeAndReconstructUseTheTrainedModel) {
  const fs::path& out = straight_run();
  const fs::path codes_path = root_ / "codes.safetensors";
  Result e = run("encode", {"--checkpoint", (out / "last.safetensors").string(), "--out",
                            codes_path.string()});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  Checkpoint codes = load_checkpoint(codes_path.string());
  ASSERT_TRUE(codes.tensors.count("codes_train") && codes.tensors.count("codes_test"));
  EXPECT_EQ(codes.tensors["codes_train"].shape(), (Shape{512, 4}));
  EXPECT_EQ(codes.tensors["codes_test"].shape(), (Shape{128, 4}));
  EXPECT_EQ(codes.tensors.count("labels_train"), 0u);  // shapes carry factors, not labels
  EXPECT_EQ(codes.metadata["format"], "kite-codes");
  EXPECT_EQ(codes.metadata["latent_dim"], "4");
  for (double v : to_double_vector(codes.tensors["codes_train"])) ASSERT_TRUE(std::isfinite(v));

  const fs::path png = root_ / "recon.png";
  const fs::path metrics = root_ / "recon.json";
  Result r = run("reconstruct",
                 {"--checkpoint", (out / "last.safetensors").string(), "--out", png.string(),
                  "--count", "8", "--metrics", metrics.string(), "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(fs::exists(png));
  EXPECT_EQ(read_file(png).substr(1, 3), "PNG");
  // Its test MSE is the one train_ae measured at the end.
  auto rec = nlohmann::json::parse(read_file(metrics));
  auto train = nlohmann::json::parse(read_file(out / "metrics.json"));
  EXPECT_EQ(rec["test_images"], 128);
  EXPECT_DOUBLE_EQ(rec["test_mse"].get<double>(), train["test_mse"].get<double>());
}

}  // namespace
}  // namespace kite
