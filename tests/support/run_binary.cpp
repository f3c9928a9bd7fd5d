// Runs the project's binaries from tests: see run_binary.h.
#include "run_binary.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

extern char** environ;

namespace kite::test_support {

namespace fs = std::filesystem;

fs::path apps_dir() {
  return fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "apps";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Process spawn(const std::string& name, const std::vector<std::string>& args, const fs::path& logs,
              const std::vector<std::string>& env) {
  static int counter = 0;
  Process p;
  p.out = logs / (name + "." + std::to_string(counter) + ".out");
  p.err = logs / (name + "." + std::to_string(counter++) + ".err");
  const std::string binary = (apps_dir() / name).string();
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  // The variables set here, then the inherited environment less those.
  std::vector<std::string> env_strings = env;
  env_strings.emplace_back("OMP_WAIT_POLICY=passive");
  const size_t set_here = env_strings.size();
  const auto name_of = [](std::string_view entry) { return entry.substr(0, entry.find('=')); };
  for (char** e = environ; *e; ++e) {
    bool overridden = false;
    for (size_t i = 0; i < set_here; ++i) overridden |= name_of(env_strings[i]) == name_of(*e);
    if (!overridden) env_strings.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, p.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, p.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int rc = posix_spawn(&p.pid, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + binary + ": " + std::strerror(rc));
  return p;
}

Result wait_for(const Process& p) {
  int status = 0;
  waitpid(p.pid, &status, 0);
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(p.out);
  r.err = read_file(p.err);
  return r;
}

Result interrupt_after_log_lines(const Process& process, const fs::path& log, int lines) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(log);
    int seen = 0;
    for (std::string line; std::getline(in, line);) ++seen;
    if (seen >= lines) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(process.pid, SIGINT);
  return wait_for(process);
}

void AppTest::SetUpTestSuite() {
  const std::string program = fs::read_symlink("/proc/self/exe").filename().string();
  suite_root_ =
      fs::path(::testing::TempDir()) / ("kite_" + program + "_" + std::to_string(getpid()));
  fs::create_directories(suite_root_);
}

void AppTest::TearDownTestSuite() {
  if (!any_failure_) fs::remove_all(suite_root_);
}

void AppTest::SetUp() {
  if (!fs::exists(apps_dir() / binary_))
    GTEST_SKIP() << binary_ << " is not built at " << (apps_dir() / binary_).string()
                 << " (build the apps)";
  root_ = suite_root_ / ::testing::UnitTest::GetInstance()->current_test_info()->name();
  fs::create_directories(root_);
}

void AppTest::TearDown() { any_failure_ |= HasFailure(); }

Result AppTest::run(const std::string& name, const std::vector<std::string>& args,
                    const std::vector<std::string>& env) {
  return wait_for(spawn(name, args, root_, env));
}

}  // namespace kite::test_support
