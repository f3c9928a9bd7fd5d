// The table of op cases that the gradient checks run: the table-driven test
// (tests/gradcheck/op_table.cpp) and the apps/gradcheck binary both iterate all_op_cases().
//
// Each family of ops contributes its rows from ops/cases/<family>.cpp. A row names the op, the
// shapes of its inputs, where their values may be drawn from (log needs positive inputs, abs
// must stay away from its kink), and the function to check.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace kite {

enum class InputDomain {
  Any,           // standard normal
  Positive,      // uniform in [0.5, 2]
  AwayFromZero,  // |x| in [0.2, 2] with random sign (kinks at 0: abs, relu, ...)
  UnitInterval,  // uniform in [0.1, 0.9] (probabilities, targets)
  Index,         // int64, not differentiated; values in [0, index_high)
};

struct OpInput {
  Shape shape;
  InputDomain domain = InputDomain::Any;
  int64_t index_high = 0;  // for InputDomain::Index
};

// A constant a row builds inside its function (a mask, a shift, running statistics), made in
// the dtype and on the device of `like`, one of the row's inputs: the GPU parity test
// (tests/gpu/cuda_parity.cpp) runs the same rows with CUDA inputs, and float32 ones.
Tensor constant_like(const std::vector<double>& values, const Shape& shape, const Tensor& like);

struct OpCase {
  std::string op;    // the public op, e.g. "add"
  std::string name;  // this configuration, e.g. "add/broadcast_row"
  std::vector<OpInput> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  bool second_order = false;
  bool noncontiguous = true;  // also check with strided views of the inputs
};

std::vector<OpCase> elementwise_op_cases();
std::vector<OpCase> activation_op_cases();
std::vector<OpCase> reduce_op_cases();
std::vector<OpCase> shape_op_cases();
std::vector<OpCase> linalg_op_cases();
std::vector<OpCase> loss_op_cases();
std::vector<OpCase> factory_op_cases();
std::vector<OpCase> det_op_cases();
std::vector<OpCase> nn_op_cases();  // conv, pooling, normalisation, upsampling (ops/cases/nn.cpp)

// Every row of every family.
std::vector<OpCase> all_op_cases();

}  // namespace kite
