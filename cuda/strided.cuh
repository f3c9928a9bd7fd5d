// Element offsets of N tensors walked together over one shape, for kernels that accept any
// strides (broadcast views with stride 0, transposes, slices).
//
// The host side simplifies the shape first, exactly as the CPU loops do
// (ops/cpu/elementwise.h, make_strided_loop): size-1 axes are dropped and neighbouring axes
// merged when every operand steps through them as through one axis, so most real layouts
// end up with one to three axes. The device side turns a row-major linear index into one
// offset per operand with a div/mod per remaining axis.
#pragma once

#include <array>
#include <cstdint>

#include "engine/error.h"
#include "engine/shape.h"

// `#pragma unroll` for the device pass only: get() is also compiled for the host, where GCC
// does not know the pragma and -Wall warns about it.
#if defined(__CUDA_ARCH__)
#define KITE_DEVICE_UNROLL _Pragma("unroll")
#else
#define KITE_DEVICE_UNROLL
#endif

namespace kite::cuda {

// The most axes a strided operand may keep after simplification.
inline constexpr int kMaxStridedDims = 10;

template <int N>
struct StridedOffsets {
  int dims = 0;
  // Axis 0 is the innermost (fastest-varying) axis.
  int64_t sizes[kMaxStridedDims] = {};
  int64_t strides[N][kMaxStridedDims] = {};

  // offsets[k] = operand k's element offset of the element with row-major index `linear`.
  __host__ __device__ __forceinline__ void get(int64_t linear, int64_t (&offsets)[N]) const {
    KITE_DEVICE_UNROLL
    for (int k = 0; k < N; ++k) offsets[k] = 0;
    // A fixed trip count with an early exit keeps the arrays in registers/constant space
    // instead of local memory.
    KITE_DEVICE_UNROLL
    for (int d = 0; d < kMaxStridedDims; ++d) {
      if (d == dims) break;
      const int64_t index = linear % sizes[d];
      linear /= sizes[d];
      KITE_DEVICE_UNROLL
      for (int k = 0; k < N; ++k) offsets[k] += index * strides[k][d];
    }
  }
};

// Builds the offsets of N operands of `shape` with the given strides; `op` names the caller
// in the error thrown when the layout keeps more than kMaxStridedDims axes.
template <int N>
StridedOffsets<N> make_strided_offsets(const Shape& shape, const std::array<Shape, N>& strides,
                                       const char* op) {
  StridedOffsets<N> result;
  // Walk from the innermost axis outwards; result axis 0 is the innermost.
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 1) continue;
    if (result.dims > 0) {
      const int last = result.dims - 1;
      bool mergeable = true;
      for (int k = 0; k < N; ++k)
        mergeable = mergeable && strides[k][i] == result.strides[k][last] * result.sizes[last];
      if (mergeable) {
        result.sizes[last] *= shape[i];
        continue;
      }
    }
    KITE_CHECK(result.dims < kMaxStridedDims,
               op << ": CUDA kernel supports at most " << kMaxStridedDims
                  << " non-mergeable axes, got shape " << shape_str(shape));
    result.sizes[result.dims] = shape[i];
    for (int k = 0; k < N; ++k) result.strides[k][result.dims] = strides[k][i];
    ++result.dims;
  }
  return result;
}

}  // namespace kite::cuda
