// CPU kernels of the indexing ops (contract in ops/shape_kernels.h).
#pragma once

#include "ops/shape_kernels.h"

namespace kite::cpu {

void index_select_kernel(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& out);
void index_add_kernel(const Tensor& src, int64_t axis, const Tensor& index, const Tensor& out);
void gather_kernel(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& out);
void scatter_add_kernel(const Tensor& src, int64_t axis, const Tensor& index, const Tensor& out);

}  // namespace kite::cpu
