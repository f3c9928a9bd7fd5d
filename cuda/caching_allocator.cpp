// The CUDA caching allocator (see caching_allocator.h) and the statistics API of allocator.h.
#include "cuda/caching_allocator.h"

#include <cstdio>
#include <sstream>

#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/stream.h"
#include "engine/error.h"

namespace kite::cuda {
namespace {

constexpr size_t kSmallLimit = size_t{1} << 20;  // 1 MiB
constexpr size_t kSmallStep = 512;
constexpr size_t kLargeStep = size_t{1} << 20;

size_t round_up(size_t n, size_t step) { return (n + step - 1) / step * step; }

std::string mib(size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

}  // namespace

CachingAllocator& CachingAllocator::instance() {
  static CachingAllocator* allocator = new CachingAllocator();  // never destroyed, see header
  return *allocator;
}

size_t CachingAllocator::round_size(size_t nbytes) {
  return nbytes < kSmallLimit ? round_up(nbytes, kSmallStep) : round_up(nbytes, kLargeStep);
}

AllocatorStats& CachingAllocator::stats_of(int device) {
  if (device >= static_cast<int>(stats_.size())) stats_.resize(static_cast<size_t>(device) + 1);
  return stats_[static_cast<size_t>(device)];
}

void* CachingAllocator::allocate(size_t nbytes, int device) {
  if (nbytes == 0) return nullptr;
  const size_t size = round_size(nbytes);
  const cudaStream_t stream = current_stream();

  std::lock_guard<std::mutex> lock(mutex_);
  AllocatorStats& stats = stats_of(device);
  ++stats.allocations;

  Block block;
  // Smallest cached block of this device and stream with at least `size` bytes; taken when
  // it wastes at most a quarter of the request.
  auto it = free_blocks_.lower_bound(Block{device, stream, size, nullptr});
  if (it != free_blocks_.end() && it->device == device && it->stream == stream &&
      it->size <= size + size / 4) {
    block = *it;
    free_blocks_.erase(it);
    stats.cached_bytes -= block.size;
    ++stats.cache_hits;
  } else {
    DeviceGuard guard(device);  // only here: a cached block needs no device switch
    void* ptr = nullptr;
    cudaError_t status = cudaMalloc(&ptr, size);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the error before retrying
      ++stats.oom_retries;
      release_cached(device);
      status = cudaMalloc(&ptr, size);
    }
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      cudaGetLastError();
      KITE_FAIL("cuda: out of memory allocating "
                << nbytes << " bytes (" << mib(size) << " rounded) on cuda:" << device << ": "
                << mib(stats.current_bytes) << " in use by tensors, " << mib(free_bytes)
                << " free of " << mib(total_bytes));
    }
    CUDA_CHECK(status);
    ++stats.cuda_malloc_calls;
    block = Block{device, stream, size, ptr};
  }
  active_blocks_[block.ptr] = block;
  stats.current_bytes += block.size;
  if (stats.current_bytes > stats.peak_bytes) stats.peak_bytes = stats.current_bytes;
  return block.ptr;
}

void CachingAllocator::deallocate(void* ptr) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const std::optional<Block> block = active_blocks_.take(ptr);
  if (!block) {
    // Called from Storage's destructor, which must not throw: report and leak.
    std::fprintf(stderr, "kite cuda allocator: free of unknown pointer %p ignored\n", ptr);
    return;
  }
  AllocatorStats& stats = stats_of(block->device);
  stats.current_bytes -= block->size;
  stats.cached_bytes += block->size;
  free_blocks_.insert(*block);
}

void CachingAllocator::release_cached(int device) {
  // Kernels still queued may read blocks that tensors freed; wait for them first.
  for (int d = 0; d < static_cast<int>(stats_.size()); ++d) {
    if (device >= 0 && d != device) continue;
    if (stats_[static_cast<size_t>(d)].cached_bytes == 0) continue;
    DeviceGuard guard(d);
    CUDA_CHECK(cudaDeviceSynchronize());
  }
  for (auto it = free_blocks_.begin(); it != free_blocks_.end();) {
    if (device >= 0 && it->device != device) {
      ++it;
      continue;
    }
    DeviceGuard guard(it->device);
    CUDA_CHECK(cudaFree(it->ptr));
    // Every block's device already has its entry, so stats_ never grows here (and the
    // reference that allocate() holds stays valid).
    AllocatorStats& stats = stats_[static_cast<size_t>(it->device)];
    stats.cached_bytes -= it->size;
    ++stats.cuda_free_calls;
    it = free_blocks_.erase(it);
  }
}

AllocatorStats CachingAllocator::stats(int device) {
  std::lock_guard<std::mutex> lock(mutex_);
  return device < static_cast<int>(stats_.size()) && device >= 0
             ? stats_[static_cast<size_t>(device)]
             : AllocatorStats{};
}

void CachingAllocator::reset_peak(int device) {
  std::lock_guard<std::mutex> lock(mutex_);
  AllocatorStats& stats = stats_of(device);
  stats.peak_bytes = stats.current_bytes;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cached(-1);
}

// ---- allocator.h ----

AllocatorStats allocator_stats(int device) { return CachingAllocator::instance().stats(device); }

void reset_peak_bytes(int device) { CachingAllocator::instance().reset_peak(device); }

void empty_cache() { CachingAllocator::instance().empty_cache(); }

std::string format_allocator_stats(int device) {
  const AllocatorStats s = allocator_stats(device);
  std::ostringstream out;
  out << "cuda:" << device << " allocator: current " << mib(s.current_bytes) << ", peak "
      << mib(s.peak_bytes) << ", cached " << mib(s.cached_bytes) << ", " << s.cuda_malloc_calls
      << " cudaMalloc, " << s.allocations << " requests (" << s.cache_hits << " from cache)";
  return out.str();
}

}  // namespace kite::cuda
