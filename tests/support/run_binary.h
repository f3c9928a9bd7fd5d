// Runs the project's binaries from tests: spawn one with its stdout and stderr going to files,
// wait for it, read what it wrote. The binaries are found in <build>/apps/, next to the test's
// own build folder.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace kite::test_support {

// <build>/apps, from the running test's path (<build>/tests/test_x).
std::filesystem::path apps_dir();

std::string read_file(const std::filesystem::path& path);

struct Process {
  pid_t pid = -1;
  std::filesystem::path out, err;
};

struct Result {
  int exit_code = -1;  // 128 + signal number when a signal ended it
  std::string out, err;
};

// Starts apps_dir()/name with `args`; stdout and stderr go to numbered files in `logs`.
// OpenMP threads sleep instead of spinning while they wait (OMP_WAIT_POLICY=passive), so that
// a busy machine (ctest running tests side by side) stays fast; this changes no arithmetic.
// `env` holds "NAME=value" entries for the child, replacing inherited ones of the same name.
Process spawn(const std::string& name, const std::vector<std::string>& args,
              const std::filesystem::path& logs, const std::vector<std::string>& env = {});
Result wait_for(const Process& process);

// Ctrl-C for a training run: waits until `log` has at least `lines` lines (or 60 s have
// passed), sends SIGINT, and waits for the process to end.
Result interrupt_after_log_lines(const Process& process, const std::filesystem::path& log,
                                 int lines);

// The fixture of tests that run one of the binaries: a scratch folder per test (root_) under
// one per test program (removed at the end unless a test failed, to leave a look), and a skip
// with a reason when the binary has not been built.
class AppTest : public ::testing::Test {
 protected:
  explicit AppTest(std::string binary) : binary_(std::move(binary)) {}
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;
  void TearDown() override;
  // Runs a binary (the fixture's by default) to the end, logs in root_; `env` as for spawn.
  Result run(const std::string& name, const std::vector<std::string>& args,
             const std::vector<std::string>& env = {});
  Result run(const std::vector<std::string>& args) { return run(binary_, args); }

  static inline std::filesystem::path suite_root_;
  static inline bool any_failure_ = false;
  std::string binary_;
  std::filesystem::path root_;
};

}  // namespace kite::test_support
