// The CUDA caching allocator: size-rounded free lists per (device, stream).
//
//   allocate: round the size up (512 B steps below 1 MiB, 1 MiB steps above); take the
//             smallest free block of this device and stream that is at least that big and
//             at most a quarter bigger; else cudaMalloc a new block. If cudaMalloc runs out
//             of memory, give every cached block of the device back to the driver and retry
//             once before reporting the failure.
//   free:     put the block back on its (device, stream) free list; no cudaFree.
// A block is only reused by work on the stream it was last used on, and work on one stream
// runs in order, so a block freed while a kernel still reads it is safe to hand out again.
//
// The allocator is created on first use and never destroyed: tensors freed during static
// destruction must still find it, and the CUDA runtime may already be shut down by then.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <functional>
#include <memory_resource>
#include <mutex>
#include <set>
#include <vector>

#include "cuda/allocator.h"
#include "engine/flat_map.h"

namespace kite::cuda {

class CachingAllocator {
 public:
  static CachingAllocator& instance();

  // nullptr for nbytes == 0. Throws kite::Error when the device is out of memory.
  void* allocate(size_t nbytes, int device);
  void deallocate(void* ptr);

  AllocatorStats stats(int device);
  void reset_peak(int device);
  void empty_cache();

  static size_t round_size(size_t nbytes);

 private:
  struct Block {
    int device = 0;
    cudaStream_t stream = nullptr;
    size_t size = 0;
    void* ptr = nullptr;
  };
  // Free blocks ordered by (device, stream, size, address): lower_bound finds the smallest
  // block of one device and stream that is big enough.
  struct BlockOrder {
    bool operator()(const Block& a, const Block& b) const {
      if (a.device != b.device) return a.device < b.device;
      if (a.stream != b.stream) return std::less<cudaStream_t>()(a.stream, b.stream);
      if (a.size != b.size) return a.size < b.size;
      return std::less<void*>()(a.ptr, b.ptr);
    }
  };

  CachingAllocator() = default;
  AllocatorStats& stats_of(int device);  // mutex held
  void release_cached(int device);       // mutex held; device -1: all devices

  std::mutex mutex_;
  // The set's nodes come from a pool of their own (guarded by mutex_): otherwise every
  // allocation and free would also be a heap allocation for a set entry, host time that a
  // small kernel's launch cannot hide. (FlatMap, engine/flat_map.h, has no nodes.)
  std::pmr::unsynchronized_pool_resource node_pool_;
  std::pmr::set<Block, BlockOrder> free_blocks_{&node_pool_};
  FlatMap<void*, Block> active_blocks_;  // blocks handed out to tensors, by address
  std::vector<AllocatorStats> stats_;
};

}  // namespace kite::cuda
