// CPU kernel of the batched matrix product (contract in ops/linalg_kernels.h), built on the
// engine's GEMM (ops/cpu/gemm.h).
#pragma once

#include "ops/linalg_kernels.h"

namespace kite::cpu {

void matmul_kernel(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out);

}  // namespace kite::cpu
