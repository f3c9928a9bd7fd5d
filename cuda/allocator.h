// Statistics and control of the CUDA caching allocator (cuda/caching_allocator.cpp).
// Plain C++ (no CUDA headers) so that tests and benchmarks can read the counters.
//
// Every CUDA tensor's memory comes from the caching allocator: freed blocks are kept and
// handed to later allocations of a similar size, so a training loop in steady state makes no
// cudaMalloc call at all (cuda_malloc_calls stops growing after the first step).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace kite::cuda {

struct AllocatorStats {
  size_t current_bytes = 0;        // in blocks handed out to tensors now (rounded sizes)
  size_t peak_bytes = 0;           // the most current_bytes has been (since the last reset)
  size_t cached_bytes = 0;         // in free blocks kept for reuse
  uint64_t cuda_malloc_calls = 0;  // successful cudaMalloc calls (each one a new block)
  uint64_t cuda_free_calls = 0;    // blocks given back to the driver (out of memory, empty_cache)
  uint64_t allocations = 0;        // allocation requests of non-zero size
  uint64_t cache_hits = 0;         // requests served from a free block
  uint64_t oom_retries = 0;        // times the cache was emptied to retry a failed cudaMalloc
};

// Counters of one device (zeros for a device that never allocated).
AllocatorStats allocator_stats(int device = 0);
// Sets peak_bytes to current_bytes, to measure the peak of a later phase.
void reset_peak_bytes(int device = 0);
// Gives every cached free block of every device back to the driver (waits for the devices).
void empty_cache();
// One line for logs: "cuda:0 allocator: current 1.2 MiB, peak 3.4 MiB, cached 2.0 MiB,
// 17 cudaMalloc, 342 requests (325 from cache)".
std::string format_allocator_stats(int device = 0);

}  // namespace kite::cuda
