// Gradient-check rows for the activations (ops/activations.h). relu and leaky_relu have a
// kink at 0 and elu a jump in its second derivative there, so their inputs stay away from
// zero; the smooth ones take any input.
#include "ops/activations.h"
#include "ops/cases/op_cases.h"

namespace kite {
namespace {

using Inputs = std::vector<Tensor>;
using D = InputDomain;

void add_activation(std::vector<OpCase>& rows, const std::string& op, const std::string& label,
                    D domain, std::function<Tensor(const Tensor&)> fn) {
  for (Shape shape : {Shape{3, 4}, Shape{}, Shape{5}}) {
    rows.push_back({op,
                    op + "/" + label + shape_str(shape),
                    {{shape, domain}},
                    [fn](const Inputs& x) { return fn(x[0]); },
                    true});
  }
}

}  // namespace

std::vector<OpCase> activation_op_cases() {
  std::vector<OpCase> rows;
  add_activation(rows, "relu", "", D::AwayFromZero, [](const Tensor& x) { return relu(x); });
  add_activation(rows, "leaky_relu", "slope0.1", D::AwayFromZero,
                 [](const Tensor& x) { return leaky_relu(x, 0.1); });
  add_activation(rows, "elu", "alpha1", D::AwayFromZero, [](const Tensor& x) { return elu(x); });
  add_activation(rows, "elu", "alpha0.5", D::AwayFromZero,
                 [](const Tensor& x) { return elu(x, 0.5); });
  add_activation(rows, "softplus", "", D::Any, [](const Tensor& x) { return softplus(x); });
  add_activation(rows, "sigmoid", "", D::Any, [](const Tensor& x) { return sigmoid(x); });
  add_activation(rows, "tanh", "", D::Any, [](const Tensor& x) { return tanh(x); });
  add_activation(rows, "silu", "", D::Any, [](const Tensor& x) { return silu(x); });
  // beta is an input too (a learnable scalar in practice), kept positive.
  rows.push_back({"lipswish",
                  "lipswish/scalar_beta",
                  {{{3, 4}}, {{}, D::Positive}},
                  [](const Inputs& x) { return lipswish(x[0], x[1]); },
                  true});
  rows.push_back({"lipswish",
                  "lipswish/channel_beta",
                  {{{2, 3}}, {{3}, D::Positive}},
                  [](const Inputs& x) { return lipswish(x[0], x[1]); },
                  true});
  return rows;
}

}  // namespace kite
