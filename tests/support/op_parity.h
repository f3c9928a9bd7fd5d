// The op table's parity check between the CPU and another device, shared by the GPU test
// (tests/gpu/cuda_parity.cpp) and the host-backed stand-in for a GPU (tests/unit/
// host_device.cpp). Every row runs on the CPU and on the other device from the same input
// values; outputs and input gradients (for the same incoming gradient) must agree:
//   float64, contiguous and strided inputs: |other - cpu| <= 1e-10 * max(1, |cpu|);
//   float32, contiguous: |other - cpu| <= 32 * 2^-23 * sqrt(K) * max(1, max |cpu|), with K the
//     number of input elements (a bound on any reduction length): rounding differences of
//     float32 sums grow like sqrt(K), and 32 ulp cover the different libm of each device.
// A float32 row is only compared when the CPU can run it in float32.
#pragma once

#include "engine/device.h"
#include "ops/cases/op_cases.h"

namespace kite::test_support {

// One variant of a row; failures are reported with GoogleTest's assertions.
void check_op_parity(const OpCase& op_case, DType dtype, bool strided, Device device);

// Every variant of a row: float64, float64 on strided inputs (when the row allows them), and
// float32.
void check_op_parity_all(const OpCase& op_case, Device device);

}  // namespace kite::test_support
