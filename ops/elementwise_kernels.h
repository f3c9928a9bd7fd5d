// The kernel interface of the elementwise ops: what a device must provide to run them.
//
// Kernels are found through DispatchStubs (engine/dispatch.h). The stubs are defined in
// ops/elementwise.cpp with the CPU kernels (ops/cpu/elementwise.h); a CUDA library fills the
// CUDA slot with `unary_stub.set(DeviceType::CUDA, ...)`. The arithmetic is in
// ops/math/elementwise.h so that both devices run the same formulas.
//
// Layout contract, shared by every kernel below:
//   - `out` is freshly allocated: contiguous, with the result's shape, dtype and device.
//   - Inputs already have out's shape: broadcasting is done by the caller with
//     broadcast_view (stride 0 along broadcast axes), so inputs may have any strides.
//   - All tensors are on the same device; out.numel() > 0 (callers skip empty results).
#pragma once

#include "engine/dispatch.h"
#include "engine/tensor.h"
#include "ops/math/elementwise.h"

namespace kite {

// x and out: the same floating dtype (float32 or float64).
using UnaryKernel = void (*)(UnaryOp op, const UnaryParams& params, const Tensor& x,
                             const Tensor& out);
// a, b and out: the same dtype; floating for arithmetic, any dtype for comparisons.
using BinaryKernel = void (*)(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
// out = cond != 0 ? a : b. cond: any dtype; a, b and out: the same floating dtype.
using WhereKernel = void (*)(const Tensor& cond, const Tensor& a, const Tensor& b,
                             const Tensor& out);

extern DispatchStub<UnaryKernel> unary_stub;
extern DispatchStub<BinaryKernel> binary_stub;
extern DispatchStub<WhereKernel> where_stub;

// A view of t with shape `shape` under numpy broadcasting: new leading axes and size-1 axes
// that grow get stride 0. No copy and no autograd (the caller records its own backward).
// Throws naming `op` when t cannot be broadcast to `shape`.
Tensor broadcast_view(const Tensor& t, const Shape& shape, const char* op);

// Forwards shared by the elementwise ops and the activations: validate the inputs (naming
// the op), allocate the output, run the device's kernel. They record nothing.
Tensor unary_forward(const char* name, UnaryOp op, const UnaryParams& params, const Tensor& x);
Tensor binary_forward(const char* name, BinaryOp op, const Tensor& a, const Tensor& b);

}  // namespace kite
