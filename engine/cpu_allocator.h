// The CPU caching allocator: host memory for tensors, kept for reuse after tensors free it.
//
// Why: a training step allocates and frees the same few hundred buffers every iteration.
// Straight malloc/free hands large blocks back to the kernel (glibc uses mmap above its
// threshold), so every new activation page-faults in zero-filled pages: for a 64 MiB output
// that costs more than the arithmetic. Keeping freed blocks in per-size free lists makes a
// steady-state step allocation-free, as the CUDA caching allocator does on the GPU.
//
// Sizes are rounded to size classes (multiples of 64 bytes up to 4 KiB, then eight classes per
// power of two, so at most 12.5% is wasted) and a free block is reused only for its own class.
// The cache holds at most a limit of free bytes (default 2 GiB, environment variable
// KITE_CPU_CACHE_MB overrides it, 0 turns caching off); beyond it, freed blocks go straight
// back to the system. Every block is 64-byte aligned, so SIMD loads never straddle lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace kite {

struct CpuAllocatorStats {
  size_t current_bytes = 0;         // in blocks handed out to tensors now (rounded sizes)
  size_t peak_bytes = 0;            // the most current_bytes has been (since the last reset)
  size_t cached_bytes = 0;          // in free blocks kept for reuse
  size_t cache_limit_bytes = 0;     // the most cached_bytes may reach
  uint64_t system_allocations = 0;  // blocks obtained from the system
  uint64_t allocations = 0;         // allocation requests
  uint64_t cache_hits = 0;          // requests served from a free block
};

void* cpu_allocate(size_t nbytes);
void cpu_deallocate(void* ptr);

CpuAllocatorStats cpu_allocator_stats();
void cpu_reset_peak_bytes();
// Gives every cached free block back to the system.
void cpu_empty_cache();
// Changes the cache limit (bytes); shrinking it releases free blocks beyond the new limit.
void cpu_set_cache_limit(size_t bytes);
// "cpu allocator: current 1.2 MiB, peak 3.4 MiB, cached 2.0 MiB, 342 requests (325 from
// cache)".
std::string format_cpu_allocator_stats();

// The size class of a request (exposed for tests).
size_t cpu_size_class(size_t nbytes);

// ---- Page-locked ("pinned") host memory ----
// A host-to-GPU copy from pinned memory is a direct DMA instead of a staged copy through the
// driver's own pinned buffer. The CUDA library registers how to get such memory (cudaHostAlloc /
// cudaFreeHost); the engine itself knows nothing of CUDA. Inside a PinnedHostScope, CPU tensors
// are allocated pinned (when an allocator is registered and the driver agrees; otherwise as
// usual). Pinned blocks are cached in free lists of their own and freed through the registered
// function.
using PinnedAllocateFn = void* (*)(size_t nbytes);  // nullptr on failure
using PinnedFreeFn = void (*)(void* ptr);
// Give both or neither (nullptr: no pinned memory). Swap only while no pinned block is
// allocated or cached (call cpu_empty_cache first): blocks are freed by the current function.
void register_pinned_host_allocator(PinnedAllocateFn allocate, PinnedFreeFn free);
std::pair<PinnedAllocateFn, PinnedFreeFn> registered_pinned_host_allocator();
bool pinned_host_available();
// Whether `ptr` (a block handed out by the CPU allocator) is pinned.
bool cpu_is_pinned(const void* ptr);

class PinnedHostScope {
 public:
  explicit PinnedHostScope(bool enabled = true);
  ~PinnedHostScope();
  PinnedHostScope(const PinnedHostScope&) = delete;
  PinnedHostScope& operator=(const PinnedHostScope&) = delete;

 private:
  bool previous_;
};

}  // namespace kite
