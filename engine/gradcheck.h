// Finite-difference gradient checks, float64, on the CPU: the test every differentiable op
// must pass, public so that users can check their own functions (and apps/gradcheck).
//
// gradcheck compares the analytic vector-Jacobian product v^T J (from autograd, with a random
// v) against central differences of v^T f(x), element by element:
//   |analytic - numeric| <= atol + rtol * |numeric|.
// It also checks that backward is linear in v and that backward accumulates into an existing
// .grad. gradgradcheck applies gradcheck to x -> grad(f(x), x, v, create_graph = true).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace kite {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  uint64_t seed = 1234;  // for the random incoming gradient v
  bool check_linearity = true;
  bool check_accumulation = true;
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;
  std::string message;  // the first failure, naming the input and element
};

using DifferentiableFn = std::function<Tensor(const std::vector<Tensor>&)>;

// inputs: contiguous float64 CPU leaf tensors; those with requires_grad are checked (their
// data is perturbed in place and restored).
GradcheckResult gradcheck(const DifferentiableFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});
GradcheckResult gradgradcheck(const DifferentiableFn& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options = {});

}  // namespace kite
