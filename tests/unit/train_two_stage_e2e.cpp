// End to end: the train_two_stage binary on a tiny learnt-gamma stage 1 (train_vae on 256
// synthetic shapes at 28x28, made once per suite) with a small stage 2 (two optimizers, code
// re-draws and loss noise from one random stream), so that the file runs in seconds. Checks: a
// run stopped part way and resumed, interrupted with Ctrl-C and resumed, or killed and resumed
// from its periodic checkpoint reproduces the per-step losses, gamma_z and every checkpoint
// tensor of an uninterrupted run bit for bit; a resumed run keeps its settings; an existing run
// is not overwritten by accident; bad flags exit 2 with a one-line error.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

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

constexpr int kSteps = 12;  // 1.5 epochs of 8 batches of 32 codes

class TrainTwoStageEndToEnd : public test_support::AppTest {
 protected:
  TrainTwoStageEndToEnd() : AppTest("train_two_stage") {}

  // The learnt-gamma stage 1 that every run of the suite trains on.
  const fs::path& stage1() {
    static fs::path path;
    if (path.empty()) {
      const fs::path out = suite_root_ / "stage1";
      Result r = run("train_vae", test_support::tiny_vae_args(out, 4));
      EXPECT_EQ(r.exit_code, 0) << r.err;
      path = out / "last.safetensors";
    }
    return path;
  }

  std::vector<std::string> train_args(const fs::path& out, int steps,
                                      std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--stage1",    stage1().string(),
                                     "--hidden",    "32",
                                     "--depth",     "2",
                                     "--batch",     "32",
                                     "--lr",        "2e-3",
                                     "--log-every", "1",
                                     "--threads",   "2",
                                     "--seed",      "5",
                                     "--steps",     std::to_string(steps),
                                     "--out",       out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // (loss, gamma_z) per step from a run's log.
  static std::vector<std::vector<double>> losses(const fs::path& out) {
    return test_support::logged_steps(out, {"loss", "gamma_z"});
  }

  // An uninterrupted run of `steps` steps (kSteps: one for the whole suite).
  const fs::path& straight_run() {
    static fs::path out;
    if (out.empty()) out = straight_run_of(kSteps, suite_root_ / "straight");
    return out;
  }
  fs::path straight_run_of(int steps, const fs::path& out) {
    Result r = run(train_args(out, steps));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }

  // Log, both stages, the networks' optimizer and log gamma_z's ("extra.gamma_optim.*").
  static void expect_same_as(const fs::path& out, const fs::path& straight) {
    test_support::expect_same_run(out, straight, {"loss", "gamma_z"},
                                  {"extra.gamma_optim.step", "model.stage2.log_gamma"});
  }
};

TEST_F(TrainTwoStageEndToEnd, ResumeReproducesTheLossSequenceBitForBit) {
  const auto straight = losses(straight_run());
  ASSERT_EQ(straight.size(), static_cast<size_t>(kSteps));
  EXPECT_NE(straight.back()[1], straight.front()[1]);  // gamma_z is learnt
  const fs::path half = root_ / "half";
  // Stop mid-epoch (step 5 of 8) so that resuming must skip batches of the shuffled order.
  Result first = run(train_args(half, 5));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  Result second = run(train_args(half, kSteps, {"--resume"}));  // the same flags plus --resume
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("resumed from"), std::string::npos) << second.err;
  expect_same_as(half, straight_run());
  const auto metrics = nlohmann::json::parse(read_file(half / "metrics.json"));
  EXPECT_EQ(metrics["steps"], kSteps);
  // What `evaluate` and vae_io's load_two_stage_vae read.
  const Checkpoint file = load_checkpoint((half / "last.safetensors").string());
  EXPECT_EQ(file.metadata.at("kind"), "two_stage_vae");
  const auto config = nlohmann::json::parse(file.metadata.at("config"));
  for (const char* key : {"stage1", "stage2", "stage1_checkpoint", "dataset", "train", "seed"})
    EXPECT_TRUE(config.contains(key)) << key;
}

TEST_F(TrainTwoStageEndToEnd, CtrlCSavesACheckpointExitsZeroAndResumesExactly) {
  const fs::path out = root_ / "interrupted";
  // Stage-2 steps take well under a millisecond, so the run is long enough never to end by
  // itself before the signal; the comparison is with a straight run a few steps past the stop.
  Process p = spawn("train_two_stage", train_args(out, 100000, {"--checkpoint-every", "0"}), root_);
  Result r = test_support::interrupt_after_log_lines(p, out / "log.jsonl", 3);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("interrupted (signal 2)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("continue with: train_two_stage --resume --out " + out.string()),
            std::string::npos)
      << r.err;
  ASSERT_TRUE(fs::exists(out / "last.safetensors"));
  EXPECT_FALSE(fs::exists(out / "metrics.json"));  // the run is not finished
  const int64_t stopped = test_support::checkpoint_step(out);
  EXPECT_GE(stopped, 3);
  EXPECT_EQ(losses(out).size(), static_cast<size_t>(stopped));
  if (stopped > 5000) GTEST_SKIP() << "the signal arrived late, at step " << stopped;
  const int steps = static_cast<int>(stopped) + 5;
  Result resumed = run({"--resume", "--out", out.string(), "--steps", std::to_string(steps),
                        "--threads", "2", "--log-every", "1"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  expect_same_as(out, straight_run_of(steps, root_ / "straight"));
}

TEST_F(TrainTwoStageEndToEnd, AKilledRunResumesFromItsPeriodicCheckpoint) {
  const fs::path out = root_ / "killed";
  // SIGKILL leaves no time to save: the run continues from the last --checkpoint-every save,
  // and the log lines written after it are dropped.
  Process p = spawn("train_two_stage", train_args(out, 100000, {"--checkpoint-every", "4"}), root_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (size_t seen = 0; seen < 7 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::ifstream in(out / "log.jsonl");
    seen = 0;
    for (std::string line; std::getline(in, line);) ++seen;
  }
  kill(p.pid, SIGKILL);
  Result r = wait_for(p);
  ASSERT_EQ(r.exit_code, 128 + SIGKILL);
  const int64_t saved = test_support::checkpoint_step(out);
  EXPECT_GE(saved, 4);
  EXPECT_EQ(saved % 4, 0);
  if (saved > 5000) GTEST_SKIP() << "the signal arrived late, at step " << saved;
  const int steps = static_cast<int>(saved) + 6;
  Result resumed = run({"--resume", "--out", out.string(), "--steps", std::to_string(steps),
                        "--threads", "2", "--log-every", "1"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  expect_same_as(out, straight_run_of(steps, root_ / "straight"));
}

TEST_F(TrainTwoStageEndToEnd, ResumeKeepsItsSettingsAndRunsAreNotOverwritten) {
  const fs::path out = root_ / "settings";
  ASSERT_EQ(run(train_args(out, 2)).exit_code, 0);
  Result again = run(train_args(out, 2));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("pass --resume to continue it or --overwrite"), std::string::npos)
      << again.err;
  Result lr = run({"--resume", "--out", out.string(), "--lr", "1e-4", "--steps", "4"});
  EXPECT_EQ(lr.exit_code, 1);
  EXPECT_NE(lr.err.find("--lr 0.0001 differs"), std::string::npos) << lr.err;
  Result hidden = run({"--resume", "--out", out.string(), "--hidden", "64"});
  EXPECT_EQ(hidden.exit_code, 1);
  EXPECT_NE(hidden.err.find("--hidden 64 differs"), std::string::npos) << hidden.err;
  Result data = run({"--resume", "--out", out.string(), "--train-limit", "128"});
  EXPECT_EQ(data.exit_code, 1);
  EXPECT_NE(data.err.find("dataset flags differ"), std::string::npos) << data.err;
  Result nothing = run({"--resume", "--out", (root_ / "empty").string()});
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_NE(nothing.err.find("no checkpoint to resume at"), std::string::npos) << nothing.err;
  for (const Result& r : {again, lr, hidden, data, nothing})
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(losses(out).size(), 2u);  // none of them touched the run
  Result fresh = run(train_args(out, 1, {"--overwrite"}));
  EXPECT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_EQ(losses(out).size(), 1u);
  EXPECT_EQ(test_support::checkpoint_step(out), 1);
}

TEST_F(TrainTwoStageEndToEnd, BadFlagsExitTwoAndHelpListsTheFlags) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--stage1", "x", "--checkpoint-every", "-3"},
                                             {"--stage1", "x", "--hidden", "0"},
                                             {"--stage1", "x", "--no-such-flag"},
                                             {"--out", (root_ / "no_stage1").string()}}) {
    Result r = run(args);
    EXPECT_EQ(r.exit_code, 2) << args.back() << ": " << r.err;
    EXPECT_NE(r.err.find("train_two_stage"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  Result help = run({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag :
       {"--stage1", "--resume", "--overwrite", "--checkpoint-every", "--steps", "--log-every"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace kite
