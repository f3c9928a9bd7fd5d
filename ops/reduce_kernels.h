// Kernel interface of the reductions (ops/reduce.cpp): one layout for every reduction.
//
// The op arranges its input so that the reduced elements form the middle axis of a
// contiguous [outer, n, inner] block: inner == 1 is a reduction over trailing axes (a
// contiguous row per output), outer == 1 is a reduction over leading axes (sum over the
// batch of [B, F] -> [F] accumulates whole rows, no transposed copy). Reductions over
// several separated groups of axes run as several such calls.
#pragma once

#include <cstdint>

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace kite {

enum class ReduceOp { Sum, Max, Min };

// x: contiguous with outer * n * inner elements, read as [outer, n, inner].
// out: contiguous with outer * inner elements, written as [outer, inner], same dtype.
// Sum of n == 0 elements is 0; Max / Min need n >= 1.
using ReduceFn = void (*)(ReduceOp op, const Tensor& x, int64_t outer, int64_t n, int64_t inner,
                          const Tensor& out);

// Same layout; values (x's dtype) and int64 indices in [0, n) of the first maximum
// (is_max) or minimum along the middle axis. n >= 1.
using ArgReduceFn = void (*)(bool is_max, const Tensor& x, int64_t outer, int64_t n, int64_t inner,
                             const Tensor& values, const Tensor& indices);

extern DispatchStub<ReduceFn> reduce_stub;
extern DispatchStub<ArgReduceFn> arg_reduce_stub;

}  // namespace kite
