// Runs the project's binaries from tests: spawn one with its stdout and stderr going to files,
// wait for it, read what it wrote. The binaries are found in <build>/apps/, next to the test's
// own build folder.
#pragma once

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
Process spawn(const std::string& name, const std::vector<std::string>& args,
              const std::filesystem::path& logs);
Result wait_for(const Process& process);

}  // namespace kite::test_support
