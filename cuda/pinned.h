// Page-locked ("pinned") host memory for the data loader's host-to-device copies.
//
// A copy from pageable memory is staged by the driver through a pinned bounce buffer and
// blocks the host; from pinned memory it is a direct DMA that can overlap with kernels. A
// loader fills a PinnedBuffer on the host, then upload_async() queues the copy into a CUDA
// tensor on the current stream. The buffer must not be rewritten until that copy is done
// (synchronize the stream, or keep two buffers and alternate).
// Plain C++ (no CUDA headers) so that apps can use it directly.
#pragma once

#include <cstddef>

#include "engine/tensor.h"

namespace kite::cuda {

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t nbytes);  // throws kite::Error when cudaHostAlloc fails
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& other) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

// cudaHostAlloc / cudaFreeHost for the CPU allocator's pinned blocks (engine/cpu_allocator.h,
// registered at start-up by register.cpp); nullptr when the allocation fails.
void* allocate_pinned_host(size_t nbytes);
void free_pinned_host(void* ptr);

// Queues a copy of dst.numel() elements (dst's dtype) from the start of `source` into dst, a
// contiguous CUDA tensor, on the current stream, and returns without waiting.
void upload_async(const PinnedBuffer& source, const Tensor& dst);
// Waits for everything queued on the current stream of `device`.
void synchronize_stream(int device);

}  // namespace kite::cuda
