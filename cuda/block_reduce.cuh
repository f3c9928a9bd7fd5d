// Reduction of one value per thread to one value per warp (a shuffle tree) or per block (a
// shuffle tree inside each warp, then the warp results through shared memory and one more
// shuffle tree in warp 0).
// The combine order depends only on the thread layout, never on timing, so results are
// reproducible run to run.
#pragma once

#include "cuda/launch.cuh"

namespace kite::cuda {

// Every lane of the warp must call warp_reduce; the result is valid in lane 0.
template <class A, class Combine>
__device__ A warp_reduce(A value, Combine combine) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    value = combine(value, __shfl_down_sync(0xffffffffu, value, offset));
  return value;
}

// Every thread of the block must call this (it synchronises); blockDim.x must be a multiple
// of 32 and at most 1024. `identity` pads the missing warps. The result is valid in thread 0.
// Safe to call several times in a row in one kernel (it synchronises before reusing shared
// memory).
template <class A, class Combine>
__device__ A block_reduce(A value, Combine combine, A identity) {
  __shared__ A warp_results[32];
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  value = warp_reduce(value, combine);
  __syncthreads();  // a previous call may still be reading warp_results
  if (lane == 0) warp_results[warp] = value;
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x / kWarpSize;
    value = warp_reduce(lane < warps ? warp_results[lane] : identity, combine);
  }
  return value;
}

}  // namespace kite::cuda
