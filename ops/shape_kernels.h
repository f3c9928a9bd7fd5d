// Kernel interface of the indexing ops of ops/shape_ops.h (index_select, index_add, gather,
// scatter_add). Views, cat and pad need no kernel of their own: they are metadata changes or
// copies through copy_ (ops/factory.h).
//
// Every kernel iterates over an "iteration shape" split at `axis` into [outer, m, inner] and
// moves elements between a strided operand and a contiguous one:
//   index_select  out[o, i, j]        = x[o, index[i], j]         iteration = out's shape
//   index_add     out[o, index[i], j] += src[o, i, j]             iteration = src's shape
//   gather        out[o, i, j]        = x[o, index[o, i, j], j]   iteration = index's shape
//   scatter_add   out[o, index[o, i, j], j] += src[o, i, j]       iteration = index's shape
// (for gather and scatter_add, o and j range over index's sizes, which may be smaller than
// the other tensor's outside `axis`).
//
// Contract: x and src may have any strides; index is contiguous int64 on the same device
// with values already checked to lie in range; out is contiguous, and for the two *_add
// kernels already holds the values to add to (zeros, from the op). axis is normalised.
#pragma once

#include <cstdint>

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace kite {

using IndexSelectFn = void (*)(const Tensor& x, int64_t axis, const Tensor& index,
                               const Tensor& out);
using IndexAddFn = void (*)(const Tensor& src, int64_t axis, const Tensor& index,
                            const Tensor& out);
using GatherFn = void (*)(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& out);
using ScatterAddFn = void (*)(const Tensor& src, int64_t axis, const Tensor& index,
                              const Tensor& out);

extern DispatchStub<IndexSelectFn> index_select_stub;
extern DispatchStub<IndexAddFn> index_add_stub;
extern DispatchStub<GatherFn> gather_stub;
extern DispatchStub<ScatterAddFn> scatter_add_stub;

}  // namespace kite
