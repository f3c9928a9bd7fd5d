// train_ae under mpirun (this test starts mpirun itself, so ctest runs it as a plain process):
//   - a rank that fails (--inject-failure RANK:STEP) ends the whole job within seconds with a
//     non-zero exit and a line naming the rank and the message, for 2 and 3 ranks;
//   - clear errors at start: a batch the world size does not divide, a launcher whose world
//     size MPI does not confirm, NCCL for a CPU device;
//   - 2 ranks with --sync-bn train like 1 rank (float32: the same losses up to the rounding
//     of a different summation order), only rank 0 writes the log and checkpoint, and a
//     1-rank --resume of the 2-rank checkpoint continues like an uninterrupted 1-rank run;
//     so do 2 ranks with --learn-gamma.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace kite {
namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  double seconds = 0;
  std::string err;
};

std::string mpiexec() {
  const char* path = std::getenv("KITE_MPIEXEC");
  return path && *path ? path : "mpirun";
}

std::string quote(const std::string& s) {
  std::string quoted(1, '\'');
  quoted.append(s).push_back('\'');
  return quoted;
}

class TrainAeUnderMpirun : public ::testing::Test {
 protected:
  void SetUp() override {
    train_ae_ = fs::path(KITE_APPS_DIR) / "train_ae";
    if (!fs::exists(train_ae_)) GTEST_SKIP() << "train_ae is not built at " << train_ae_;
    root_ = fs::path(::testing::TempDir()) /
            ("kite_launch_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(root_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(root_);
  }

  // Runs train_ae on `ranks` processes (0: without mpirun), stderr into a file; `environment`
  // ("NAME=value ") goes in front of the command.
  Result run(int ranks, const std::vector<std::string>& args, const std::string& environment = "") {
    std::string command = environment;
    if (ranks > 0)
      command += quote(mpiexec()) + " --oversubscribe -np " + std::to_string(ranks) +
                 " -x OMP_NUM_THREADS=1 -x OMP_WAIT_POLICY=passive ";
    command += quote(train_ae_.string());
    for (const std::string& a : args) command.append(" ").append(quote(a));
    const fs::path err = root_ / ("stderr." + std::to_string(runs_++));
    command.append(" > /dev/null 2> ").append(quote(err.string()));
    const auto start = std::chrono::steady_clock::now();
    const int status = std::system(command.c_str());
    Result r;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    std::ifstream in(err);
    std::stringstream text;
    text << in.rdbuf();
    r.err = text.str();
    return r;
  }

  std::vector<std::string> small_run(const fs::path& out, int steps) const {
    return {
        "--dataset",    "shapes",    "--image-size", "28",   "--train-limit", "256",
        "--test-limit", "64",        "--channels",   "8,16", "--latent",      "4",
        "--batch",      "32",        "--lr",         "2e-3", "--log-every",   "1",
        "--threads",    "1",         "--seed",       "3",    "--steps",       std::to_string(steps),
        "--out",        out.string()};
  }

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

  fs::path train_ae_, root_;
  int runs_ = 0;
};

TEST_F(TrainAeUnderMpirun, FailingRankEndsTheJobWithRankAndMessage) {
  for (int ranks : {2, 3}) {
    const int failing = ranks - 1;
    std::vector<std::string> args = small_run(root_ / ("fail" + std::to_string(ranks)), 40);
    *(std::find(args.begin(), args.end(), "--batch") + 1) = "48";  // divisible by 2 and 3
    args.push_back("--inject-failure");
    args.push_back(std::to_string(failing) + ":3");
    const Result r = run(ranks, args);
    EXPECT_NE(r.exit_code, 0) << r.err;
    const std::string line = "rank " + std::to_string(failing) + "/" + std::to_string(ranks) +
                             ": error: train_ae: injected failure at step 3";
    EXPECT_NE(r.err.find(line), std::string::npos) << "expected '" << line << "' in:\n" << r.err;
    // Start-up (data, model) plus a few steps: a hang would run into ctest's timeout instead.
    EXPECT_LT(r.seconds, 60.0) << r.err;
    std::printf("[ info ] %d ranks: the job ended %.1f s after start, exit code %d\n", ranks,
                r.seconds, r.exit_code);
  }
}

TEST_F(TrainAeUnderMpirun, ClearErrorsAtStart) {
  struct Case {
    int ranks;
    std::string environment, flag, value, message;
  };
  const Case cases[] = {
      // --batch is the global batch: 32 images do not split over 3 ranks.
      {3, "", "--batch", "32", "must be divisible by the 3 ranks"},
      // A launcher of another MPI (MPICH's variables) starting this Open MPI build alone.
      {0, "PMI_SIZE=2 PMI_RANK=0 ", "--seed", "3", "the launcher says 2 processes"},
      // NCCL for a CPU device (and, in a build without CUDA, without CUDA).
      {0, "", "--dist", "nccl", "--dist nccl"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = small_run(root_ / "errors", 2);
    auto it = std::find(args.begin(), args.end(), c.flag);
    if (it != args.end())
      *(it + 1) = c.value;
    else
      args.insert(args.end(), {c.flag, c.value});
    const Result r = run(c.ranks, args, c.environment);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << "expected '" << c.message << "' in:\n"
                                                        << r.err;
  }
}

TEST_F(TrainAeUnderMpirun, TwoRanksTrainLikeOneAndResumeOnOne) {
  constexpr int kFirst = 5, kTotal = 10;
  const fs::path straight = root_ / "straight", split = root_ / "split";
  Result r = run(0, small_run(straight, kTotal));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> two = small_run(split, kFirst);
  two.push_back("--sync-bn");
  r = run(2, two);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Rank 0 alone wrote: one record per step, in order (losses() checks the steps).
  const std::vector<double> first = losses(split);
  ASSERT_EQ(first.size(), static_cast<size_t>(kFirst));
  std::ifstream metrics_file(split / "metrics.json");
  const auto metrics = nlohmann::json::parse(metrics_file);
  EXPECT_EQ(metrics["world_size"], 2);
  EXPECT_EQ(metrics["dist"], "mpi");

  std::vector<std::string> resume = small_run(split, kTotal);
  resume.push_back("--resume");
  r = run(0, resume);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<double> expected = losses(straight), got = losses(split);
  ASSERT_EQ(got.size(), expected.size());
  // float32: the two ranks sum the batch in two halves and the gradients in another order, and
  // Adam magnifies such rounding where gradients are tiny, so the losses agree to about 1e-3
  // relative (measured: at most 1.6e-3 over these 10 steps), not bit for bit; the float64 tests
  // in data_parallel_equivalence and resume_world_size check exactness to 1e-9. The control
  // below shows the tolerance still tells a different computation apart.
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], 5e-3 * std::abs(expected[i]))
        << "step " << i + 1 << (i < kFirst ? " (2 ranks)" : " (1 rank, resumed)");

  // Control: per-rank BatchNorm statistics (no --sync-bn) are another computation, with losses
  // several percent away from the 1-rank run (measured: up to 7%).
  const fs::path per_rank = root_ / "per_rank";
  r = run(2, small_run(per_rank, kFirst));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<double> other = losses(per_rank);
  ASSERT_EQ(other.size(), static_cast<size_t>(kFirst));
  double largest = 0;
  for (size_t i = 0; i < other.size(); ++i)
    largest = std::max(largest, std::abs(other[i] - expected[i]) / std::abs(expected[i]));
  EXPECT_GT(largest, 2e-2) << "per-rank BatchNorm matched the 1-rank run";
}

TEST_F(TrainAeUnderMpirun, LearntGammaTrainsLikeOneRank) {
  // --learn-gamma under mpirun: log gamma joins the data-parallel parameters, and 2 ranks with
  // --sync-bn follow the 1-rank run. (While gamma is far above the MSE, its Adam steps by
  // about -lr whatever the images, so this does not tell an unaveraged log gamma apart; at a
  // gamma lr fast enough to reach the MSE, float32 rounding alone moves the losses by 1%.)
  constexpr int kSteps = 6;
  const fs::path one = root_ / "gamma_one", two = root_ / "gamma_two";
  std::vector<std::string> args = small_run(one, kSteps);
  args.push_back("--learn-gamma");
  Result r = run(0, args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  args = small_run(two, kSteps);
  args.insert(args.end(), {"--learn-gamma", "--sync-bn"});
  r = run(2, args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<double> expected = losses(one), got = losses(two);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], 5e-3 * std::abs(expected[i])) << "step " << i + 1;
  auto gamma = [](const fs::path& out) {
    std::ifstream in(out / "metrics.json");
    return nlohmann::json::parse(in).at("gamma").get<double>();
  };
  EXPECT_NEAR(gamma(two), gamma(one), 1e-5 * gamma(one));
  EXPECT_LT(gamma(one), 1.0);
}

}  // namespace
}  // namespace kite
