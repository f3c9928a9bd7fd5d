// Gradient checks of one op case (see check.h).
#include "ops/cases/check.h"

#include <cmath>

#include "engine/generator.h"
#include "ops/shape_ops.h"

namespace kite {

std::vector<Tensor> make_case_inputs(const OpCase& op_case, uint64_t seed) {
  Generator generator(seed);
  std::vector<Tensor> inputs;
  for (const OpInput& spec : op_case.inputs) {
    const int64_t n = numel_of(spec.shape);
    if (spec.domain == InputDomain::Index) {
      Tensor index = Tensor::empty(spec.shape, DType::Int64);
      std::vector<double> u(n);
      generator.fill_uniform(u.data(), n);
      for (int64_t i = 0; i < n; ++i)
        index.data_ptr<int64_t>()[i] =
            std::min<int64_t>(spec.index_high - 1, static_cast<int64_t>(u[i] * spec.index_high));
      inputs.push_back(index);
      continue;
    }
    Tensor x = Tensor::empty(spec.shape, DType::Float64);
    double* data = x.data_ptr<double>();
    switch (spec.domain) {
      case InputDomain::Any:
        generator.fill_normal(data, n);
        break;
      case InputDomain::Positive:
        generator.fill_uniform(data, n, 0.5, 2.0);
        break;
      case InputDomain::UnitInterval:
        generator.fill_uniform(data, n, 0.1, 0.9);
        break;
      case InputDomain::AwayFromZero: {
        std::vector<double> sign(n);
        generator.fill_uniform(data, n, 0.2, 2.0);
        generator.fill_uniform(sign.data(), n);
        for (int64_t i = 0; i < n; ++i) data[i] = sign[i] < 0.5 ? -data[i] : data[i];
        break;
      }
      case InputDomain::Index:
        break;
    }
    x.set_requires_grad(true);
    inputs.push_back(x);
  }
  return inputs;
}

namespace {

// The same values as x, as a view with stride 2 in the last axis (x stacked with itself
// along a new last axis, then the first copy selected). Differentiable, so gradients flow
// back to the contiguous leaf that gradcheck perturbs.
Tensor strided_copy(const Tensor& x) {
  if (x.dim() == 0 || !is_floating(x.dtype())) return x;
  return select(stack({x, x}, -1), -1, 0);
}

}  // namespace

OpCaseCheck check_op_case(const OpCase& op_case, bool noncontiguous, uint64_t seed,
                          const GradcheckOptions& options) {
  std::vector<Tensor> inputs = make_case_inputs(op_case, seed);
  DifferentiableFn fn = op_case.fn;
  if (noncontiguous) {
    fn = [&op_case](const std::vector<Tensor>& xs) {
      std::vector<Tensor> views;
      for (const Tensor& x : xs) views.push_back(strided_copy(x));
      return op_case.fn(views);
    };
  }
  OpCaseCheck check;
  check.first_order = gradcheck(fn, inputs, options);
  if (op_case.second_order) {
    check.ran_second_order = true;
    check.second_order = gradgradcheck(fn, inputs, options);
  }
  return check;
}

}  // namespace kite
