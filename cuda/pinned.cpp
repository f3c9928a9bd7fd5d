// Pinned host buffers and asynchronous uploads (see pinned.h).
#include "cuda/pinned.h"

#include <utility>

#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/stream.h"
#include "engine/error.h"

namespace kite::cuda {

PinnedBuffer::PinnedBuffer(size_t nbytes) : size_(nbytes) {
  if (nbytes > 0) CUDA_CHECK(cudaHostAlloc(&data_, nbytes, cudaHostAllocDefault));
}

PinnedBuffer::~PinnedBuffer() {
  if (data_ != nullptr) cudaFreeHost(data_);
}

PinnedBuffer::PinnedBuffer(PinnedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) cudaFreeHost(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void* allocate_pinned_host(size_t nbytes) {
  void* ptr = nullptr;
  // Portable: page-locked for every GPU's context, not only the calling thread's device's.
  if (cudaHostAlloc(&ptr, nbytes, cudaHostAllocPortable) != cudaSuccess) {
    cudaGetLastError();  // the CPU allocator reports the failure
    return nullptr;
  }
  return ptr;
}

void free_pinned_host(void* ptr) { cudaFreeHost(ptr); }

void upload_async(const PinnedBuffer& source, const Tensor& dst) {
  KITE_CHECK(dst.defined() && dst.device().is_cuda() && dst.is_contiguous(),
             "upload_async: destination must be a contiguous CUDA tensor, got " << describe(dst));
  const size_t nbytes = static_cast<size_t>(dst.numel()) * dtype_size(dst.dtype());
  KITE_CHECK(nbytes <= source.size(), "upload_async: " << describe(dst) << " needs " << nbytes
                                                       << " bytes, the pinned buffer holds "
                                                       << source.size());
  if (nbytes == 0) return;
  DeviceGuard guard(dst.device().index);
  CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), source.data(), nbytes, cudaMemcpyHostToDevice,
                             current_stream()));
}

void synchronize_stream(int device) {
  DeviceGuard guard(device);
  CUDA_CHECK(cudaStreamSynchronize(current_stream()));
}

}  // namespace kite::cuda
