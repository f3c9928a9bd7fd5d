// The one generic launcher of kite's elementwise kernels (unary, binary, where, fill, copy).
//
// A "loop body" is a small struct holding the data pointers and the element functor, with
//   __device__ void contiguous(int64_t i) const;           // every operand contiguous
//   __device__ void strided(const int64_t (&offsets)[N]);  // offsets[k] for operand k
// launch_elementwise() runs the contiguous form when every operand is contiguous (a plain
// flat loop: coalesced, no index arithmetic), and the strided form otherwise. Each kernel
// instantiates the same functors as the CPU loops (ops/math/*.h), so the element arithmetic
// the CPU tests cover is the arithmetic the GPU runs.
#pragma once

#include <array>

#include "cuda/launch.cuh"
#include "cuda/strided.cuh"
#include "engine/tensor.h"

namespace kite::cuda {

template <class Body>
__global__ void contiguous_elementwise_kernel(Body body, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) body.contiguous(i);
}

template <int N, class Body>
__global__ void strided_elementwise_kernel(Body body, StridedOffsets<N> offsets, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    int64_t at[N];
    offsets.get(i, at);
    body.strided(at);
  }
}

// Runs `body` over the elements of `shape`; operands[k] is the tensor whose offsets the
// body receives as offsets[k] (operand 0 is conventionally the output). The caller has set
// the device (DeviceGuard).
template <int N, class Body>
void launch_elementwise(const char* op, const Body& body, const Shape& shape,
                        const std::array<const Tensor*, N>& operands) {
  const int64_t n = numel_of(shape);
  if (n == 0) return;
  bool contiguous = true;
  for (const Tensor* t : operands) contiguous = contiguous && t->is_contiguous();
  const int grid = grid_for(n);
  if (contiguous) {
    contiguous_elementwise_kernel<<<grid, kBlockSize, 0, current_stream()>>>(body, n);
  } else {
    std::array<Shape, N> strides;
    for (int k = 0; k < N; ++k) strides[k] = operands[k]->strides();
    const StridedOffsets<N> offsets = make_strided_offsets<N>(shape, strides, op);
    strided_elementwise_kernel<N><<<grid, kBlockSize, 0, current_stream()>>>(body, offsets, n);
  }
  KITE_CUDA_CHECK_LAUNCH();
}

}  // namespace kite::cuda
