// Gradient-check rows for the losses and the softmax family (ops/loss.h): every loss with
// every reduction, several shapes and axes, size-1 and 0-d edge cases, broadcast log_var.
// The losses are compositions of other ops, so their second derivatives are checked too.
#include "ops/loss.h"
#include "ops/cases/op_cases.h"

namespace kite {
namespace {

const char* reduction_name(Reduction reduction) {
  switch (reduction) {
    case Reduction::Mean:
      return "mean";
    case Reduction::Sum:
      return "sum";
    case Reduction::None:
      return "none";
  }
  return "?";
}

constexpr Reduction kReductions[] = {Reduction::Mean, Reduction::Sum, Reduction::None};

void add_softmax_rows(std::vector<OpCase>& rows) {
  struct Config {
    const char* label;
    Shape shape;
    int64_t axis;
  };
  const Config configs[] = {
      {"vector", {5}, 0},        {"rows", {3, 4}, 1},         {"columns", {3, 4}, 0},
      {"middle", {2, 3, 4}, -2}, {"single_class", {3, 1}, 1}, {"single", {1}, 0},
  };
  for (const Config& c : configs) {
    const int64_t axis = c.axis;
    rows.push_back({"softmax",
                    std::string("softmax/") + c.label,
                    {{c.shape}},
                    [axis](const std::vector<Tensor>& x) { return softmax(x[0], axis); },
                    true});
    rows.push_back({"log_softmax",
                    std::string("log_softmax/") + c.label,
                    {{c.shape}},
                    [axis](const std::vector<Tensor>& x) { return log_softmax(x[0], axis); },
                    true});
  }
}

void add_pairwise_rows(std::vector<OpCase>& rows) {
  for (Reduction r : kReductions) {
    const std::string suffix = reduction_name(r);
    rows.push_back({"mse_loss",
                    "mse_loss/" + suffix,
                    {{{3, 4}}, {{3, 4}}},
                    [r](const std::vector<Tensor>& x) { return mse_loss(x[0], x[1], r); },
                    true});
    rows.push_back({"binary_cross_entropy_with_logits",
                    "binary_cross_entropy_with_logits/" + suffix,
                    {{{2, 5}}, {{2, 5}, InputDomain::UnitInterval}},
                    [r](const std::vector<Tensor>& x) {
                      return binary_cross_entropy_with_logits(x[0], x[1], r);
                    },
                    true});
    rows.push_back({"kl_normal",
                    "kl_normal/" + suffix,
                    {{{4, 3}}, {{4, 3}}},
                    [r](const std::vector<Tensor>& x) { return kl_normal(x[0], x[1], r); },
                    true});
    rows.push_back({"gaussian_nll",
                    "gaussian_nll/" + suffix,
                    {{{3, 4}}, {{3, 4}}, {{3, 4}}},
                    [r](const std::vector<Tensor>& x) { return gaussian_nll(x[0], x[1], x[2], r); },
                    true});
  }
  // 0-d inputs (a single prediction) and a log_var shared across elements.
  rows.push_back({"mse_loss",
                  "mse_loss/scalar",
                  {{{}}, {{}}},
                  [](const std::vector<Tensor>& x) { return mse_loss(x[0], x[1]); },
                  true});
  rows.push_back({"binary_cross_entropy_with_logits",
                  "binary_cross_entropy_with_logits/vector",
                  {{{7}}, {{7}, InputDomain::UnitInterval}},
                  [](const std::vector<Tensor>& x) {
                    return binary_cross_entropy_with_logits(x[0], x[1], Reduction::Sum);
                  },
                  true});
  rows.push_back({"gaussian_nll",
                  "gaussian_nll/scalar_log_var",
                  {{{2, 3}}, {{2, 3}}, {{}}},
                  [](const std::vector<Tensor>& x) { return gaussian_nll(x[0], x[1], x[2]); },
                  true});
  rows.push_back(
      {"gaussian_nll",
       "gaussian_nll/row_log_var",
       {{{2, 3}}, {{2, 3}}, {{1, 3}}},
       [](const std::vector<Tensor>& x) { return gaussian_nll(x[0], x[1], x[2], Reduction::Sum); },
       true});
  rows.push_back({"kl_normal",
                  "kl_normal/size1",
                  {{{1}}, {{1}}},
                  [](const std::vector<Tensor>& x) { return kl_normal(x[0], x[1]); },
                  true});
}

void add_cross_entropy_rows(std::vector<OpCase>& rows) {
  for (Reduction r : kReductions) {
    rows.push_back({"cross_entropy",
                    std::string("cross_entropy/") + reduction_name(r),
                    {{{4, 3}}, {{4}, InputDomain::Index, 3}},
                    [r](const std::vector<Tensor>& x) { return cross_entropy(x[0], x[1], r); },
                    true});
  }
  rows.push_back({"cross_entropy",
                  "cross_entropy/one_row",
                  {{{1, 5}}, {{1}, InputDomain::Index, 5}},
                  [](const std::vector<Tensor>& x) { return cross_entropy(x[0], x[1]); },
                  true});
  rows.push_back({"cross_entropy",
                  "cross_entropy/two_classes",
                  {{{6, 2}}, {{6}, InputDomain::Index, 2}},
                  [](const std::vector<Tensor>& x) { return cross_entropy(x[0], x[1]); },
                  true});
}

}  // namespace

std::vector<OpCase> loss_op_cases() {
  std::vector<OpCase> rows;
  add_softmax_rows(rows);
  add_pairwise_rows(rows);
  add_cross_entropy_rows(rows);
  return rows;
}

}  // namespace kite
