// The shared shape of every binary's main(): parse flags with CLI11 (exit 2 on bad flags,
// 0 on --help), run, and turn any exception into one line on stderr and exit code 1.
//
//   int main(int argc, char** argv) {
//     CLI::App app{"what this binary does"};
//     ... add options ...
//     return kite::apps::run_main(app, argc, argv, [&] { ...; return 0; });
//   }
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace kite::apps {

int run_main(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

// Sets the OpenMP thread count when threads > 0 (flag --threads); returns the count in use.
int configure_threads(int threads);

}  // namespace kite::apps
