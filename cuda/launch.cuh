// Launch geometry shared by the kernels: block size, grid size for grid-stride loops, and
// the 64-bit thread index. Every element loop in kite's kernels is a grid-stride loop
//   for (int64_t i = first_index(); i < n; i += grid_stride()) ...
// so any grid size is correct; the grid size only decides how well the GPU is filled.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/stream.h"

namespace kite::cuda {

inline constexpr int kBlockSize = 256;  // threads per block (8 warps)
inline constexpr int kWarpSize = 32;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Enough blocks for one thread per element, capped at what the device can keep resident
// (more would only add scheduling overhead to the grid-stride loop).
inline int grid_for(int64_t n, int block_size = kBlockSize) {
  const int64_t resident = int64_t{multiprocessor_count(current_device())} * (2048 / block_size);
  return static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(ceil_div(n, block_size), resident)));
}

// A block per item (a row, a group, a matrix, a weight) for kernels whose blocks loop
// `for (b = blockIdx.x; b < items; b += gridDim.x)`: capped, so any count is correct.
inline int block_per_item(int64_t items) {
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(items, int64_t{1} << 30)));
}

__device__ __forceinline__ int64_t first_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

}  // namespace kite::cuda
