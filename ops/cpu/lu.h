// CPU kernel for batched LU log-determinants and inverses (see ops/det_kernels.h).
#pragma once

#include "engine/tensor.h"

namespace kite::cpu {

void lu_kernel(const Tensor& a, const Tensor& logabsdet, const Tensor& inverse);

}  // namespace kite::cpu
