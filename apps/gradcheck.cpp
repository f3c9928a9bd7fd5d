// gradcheck: float64 finite-difference checks of every registered op (or those named with
// --op), first order on contiguous and strided inputs and second order where the op is used
// under create_graph. Prints one row per case; exits 1 when any case fails.
#include <cstdio>
#include <string>

#include "apps/common/main.h"
#include "ops/cases/check.h"

int main(int argc, char** argv) {
  CLI::App app{"Float64 finite-difference gradient checks of the engine's ops"};
  app.name("gradcheck");
  std::string op_filter;
  bool list = false, quiet = false;
  uint64_t seed = 7;
  app.add_option("--op", op_filter,
                 "Check only cases of this op (e.g. matmul) or whose name contains it");
  app.add_flag("--list", list, "List the cases and exit");
  app.add_flag("-q,--quiet", quiet, "Print only failing cases and the summary");
  app.add_option("--seed", seed, "Seed for the random inputs and incoming gradients");

  return kite::apps::run_main(app, argc, argv, [&] {
    std::vector<kite::OpCase> cases;
    for (auto& c : kite::all_op_cases())
      if (op_filter.empty() || c.op == op_filter || c.name.find(op_filter) != std::string::npos)
        cases.push_back(c);
    if (cases.empty()) {
      std::fprintf(stderr, "gradcheck: no op matches '%s' (try --list)\n", op_filter.c_str());
      return 2;
    }
    if (list) {
      for (auto& c : cases)
        std::printf("%-16s %s%s\n", c.op.c_str(), c.name.c_str(),
                    c.second_order ? "  [2nd order]" : "");
      return 0;
    }
    std::printf("| %-36s | %-7s | %-13s | %-13s | %-4s |\n", "case", "order", "max abs err",
                "max rel err", "pass");
    std::printf("|%s|%s|%s|%s|%s|\n", std::string(38, '-').c_str(), std::string(9, '-').c_str(),
                std::string(15, '-').c_str(), std::string(15, '-').c_str(),
                std::string(6, '-').c_str());
    int failures = 0, checks = 0;
    for (const auto& c : cases) {
      for (bool strided : {false, true}) {
        if (strided && !c.noncontiguous) continue;
        kite::OpCaseCheck check = kite::check_op_case(c, strided, seed);
        std::string name = c.name + (strided ? " (strided)" : "");
        auto row = [&](const char* order, const kite::GradcheckResult& r) {
          ++checks;
          if (!r.ok) ++failures;
          if (!quiet || !r.ok)
            std::printf("| %-36s | %-7s | %13.3e | %13.3e | %-4s |\n", name.c_str(), order,
                        r.max_abs_error, r.max_rel_error, r.ok ? "ok" : "FAIL");
          if (!r.ok) std::printf("    %s\n", r.message.c_str());
        };
        row("first", check.first_order);
        if (check.ran_second_order) row("second", check.second_order);
      }
    }
    std::printf("\n%d checks over %zu cases: %d passed, %d failed\n", checks, cases.size(),
                checks - failures, failures);
    return failures == 0 ? 0 : 1;
  });
}
