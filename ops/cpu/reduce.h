// CPU kernels of the reductions (layout and contract in ops/reduce_kernels.h).
#pragma once

#include "ops/reduce_kernels.h"

namespace kite::cpu {

void reduce_kernel(ReduceOp op, const Tensor& x, int64_t outer, int64_t n, int64_t inner,
                   const Tensor& out);
void arg_reduce_kernel(bool is_max, const Tensor& x, int64_t outer, int64_t n, int64_t inner,
                       const Tensor& values, const Tensor& indices);

}  // namespace kite::cpu
