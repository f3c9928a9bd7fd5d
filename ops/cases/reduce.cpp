// Gradient-check rows for the reductions (ops/reduce.h): all axes, one axis, several
// separated axes (the multi-run kernel path), keepdim, 0-d and size-1 inputs.
//
// amax / amin / max / min are checked on random normal inputs, which have no ties, so the
// finite differences never straddle a switch of the chosen element. norm with p = 1 stays
// away from the kink of |x| at 0.
#include <limits>

#include "ops/cases/op_cases.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

namespace kite {
namespace {

using Inputs = std::vector<Tensor>;
using D = InputDomain;

struct AxesCase {
  const char* label;
  Shape shape;
  Axes axes;
  bool keepdim;
};
// Axis configurations every axis-taking reduction is checked on.
const AxesCase kAxes[] = {
    {"all", {2, 3}, {}, false},
    {"axis0", {3, 4}, {0}, false},
    {"last_keepdim", {3, 4}, {-1}, true},
    {"axes_0_2", {2, 3, 4}, {0, 2}, false},
    {"axes_0_2_keepdim", {2, 3, 2}, {2, 0}, true},
    {"size1_axis", {3, 1}, {1}, false},
    {"0d", {}, {}, false},
};

template <class Fn>
void add_axes_cases(std::vector<OpCase>& rows, const std::string& op, D domain, Fn fn,
                    const std::string& suffix = "") {
  for (const AxesCase& c : kAxes) {
    Axes axes = c.axes;
    bool keepdim = c.keepdim;
    rows.push_back({op,
                    op + "/" + c.label + suffix,
                    {{c.shape, domain}},
                    [fn, axes, keepdim](const Inputs& x) { return fn(x[0], axes, keepdim); },
                    true});
  }
}

}  // namespace

std::vector<OpCase> reduce_op_cases() {
  std::vector<OpCase> rows;
  add_axes_cases(rows, "sum", D::Any,
                 [](const Tensor& x, const Axes& a, bool k) { return sum(x, a, k); });
  add_axes_cases(rows, "mean", D::Any,
                 [](const Tensor& x, const Axes& a, bool k) { return mean(x, a, k); });
  add_axes_cases(rows, "logsumexp", D::Any,
                 [](const Tensor& x, const Axes& a, bool k) { return logsumexp(x, a, k); });
  add_axes_cases(rows, "amax", D::Any,
                 [](const Tensor& x, const Axes& a, bool k) { return amax(x, a, k); });
  add_axes_cases(rows, "amin", D::Any,
                 [](const Tensor& x, const Axes& a, bool k) { return amin(x, a, k); });
  add_axes_cases(rows, "norm", D::Any,
                 [](const Tensor& x, const Axes& a, bool k) { return norm(x, 2.0, a, k); });
  // Squared, so the second-order check differentiates the backward of amax (a scatter of g).
  add_axes_cases(
      rows, "amax", D::Any,
      [](const Tensor& x, const Axes& a, bool k) { return square(amax(x, a, k)); }, "/squared");

  // var has no 0-d or single-element unbiased case (n - 1 = 0 divides by zero).
  rows.push_back({"var",
                  "var/unbiased_axis1",
                  {{{3, 4}}},
                  [](const Inputs& x) { return var(x[0], {1}, true, false); },
                  true});
  rows.push_back({"var",
                  "var/biased_all_keepdim",
                  {{{2, 3}}},
                  [](const Inputs& x) { return var(x[0], {}, false, true); },
                  true});
  rows.push_back({"var",
                  "var/axes_0_2",
                  {{{2, 3, 2}}},
                  [](const Inputs& x) {
                    return var(x[0], {0, 2});
                  },
                  true});

  rows.push_back({"norm",
                  "norm/p1",
                  {{{3, 4}, D::AwayFromZero}},
                  [](const Inputs& x) { return norm(x[0], 1.0, {1}); },
                  true});
  rows.push_back({"norm",
                  "norm/p3",
                  {{{3, 4}, D::AwayFromZero}},
                  [](const Inputs& x) { return norm(x[0], 3.0, {0}, true); },
                  true});
  rows.push_back(
      {"norm",
       "norm/inf",
       {{{3, 4}, D::AwayFromZero}},
       [](const Inputs& x) { return norm(x[0], std::numeric_limits<double>::infinity(), {1}); },
       true});

  for (bool keepdim : {false, true}) {
    const std::string suffix = keepdim ? "/keepdim" : "";
    rows.push_back({"max",
                    "max/axis0" + suffix,
                    {{{3, 4}}},
                    [keepdim](const Inputs& x) { return square(max(x[0], 0, keepdim).values); },
                    true});
    rows.push_back({"min",
                    "min/last_axis" + suffix,
                    {{{2, 3, 4}}},
                    [keepdim](const Inputs& x) { return square(min(x[0], -1, keepdim).values); },
                    true});
  }
  rows.push_back(
      {"max", "max/0d", {{Shape{}}}, [](const Inputs& x) { return max(x[0], 0).values; }, true});

  rows.push_back({"sum_to",
                  "sum_to/lead_and_size1",
                  {{{2, 3, 4}}},
                  [](const Inputs& x) {
                    return sum_to(x[0], {3, 1});
                  },
                  true});
  rows.push_back({"sum_to",
                  "sum_to/scalar",
                  {{{2, 3}}},
                  [](const Inputs& x) { return sum_to(x[0], {}); },
                  true});
  rows.push_back({"sum_to",
                  "sum_to/squared",
                  {{{2, 3}}},
                  [](const Inputs& x) {
                    return square(sum_to(x[0], {1, 3}));
                  },
                  true});
  return rows;
}

}  // namespace kite
