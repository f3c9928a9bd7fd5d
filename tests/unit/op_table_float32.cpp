// Every row of the op table (ops/cases) also runs with float32 inputs on the CPU, forward and
// backward, and gives float32 results. The GPU parity test (tests/gpu/cuda_parity.cpp) runs the
// same rows in float32 and on CUDA; a row that builds a constant of its own in float64 or on the
// CPU (Tensor::from_vector) instead of like its inputs (constant_like) would fail there with
// mixed dtypes or devices. This test catches the dtype half of that mistake without a GPU.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ops/cases/check.h"
#include "ops/factory.h"
#include "ops/reduce.h"

namespace kite {
namespace {

TEST(OpTableFloat32, EveryRowRunsInFloat32OnTheCpu) {
  int rows = 0;
  for (const OpCase& op_case : all_op_cases()) {
    std::vector<Tensor> inputs;
    for (const Tensor& x : make_case_inputs(op_case, 7)) {
      if (!is_floating(x.dtype())) {
        inputs.push_back(x);
        continue;
      }
      inputs.push_back(to_dtype(x.detach(), DType::Float32).detach().set_requires_grad(true));
    }
    try {
      const Tensor out = op_case.fn(inputs);
      // to_dtype's rows convert to float64 on purpose.
      if (is_floating(out.dtype()) && op_case.op != "to_dtype") {
        EXPECT_EQ(out.dtype(), DType::Float32) << op_case.name;
      }
      if (out.requires_grad()) sum(out).backward();
      for (const Tensor& x : inputs) {
        if (x.requires_grad() && x.grad().defined()) {
          EXPECT_EQ(x.grad().dtype(), DType::Float32) << op_case.name << " gradient";
        }
      }
    } catch (const Error& e) {
      ADD_FAILURE() << op_case.name << ": float32 inputs: " << e.what();
    }
    ++rows;
  }
  EXPECT_GT(rows, 100);
}

}  // namespace
}  // namespace kite
