// The CUDA back end of the engine (engine/backend.h): memory from the caching allocator,
// copies between host and devices, synchronisation. Registered by cuda/register.cpp.
#include "cuda/backend.h"

#include <cstring>

#include "cuda/caching_allocator.h"
#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/stream.h"
#include "engine/error.h"

namespace kite::cuda {

void* CudaBackend::allocate(size_t nbytes, int device_index) {
  return CachingAllocator::instance().allocate(nbytes, device_index);
}

void CudaBackend::deallocate(void* ptr, int) { CachingAllocator::instance().deallocate(ptr); }

void CudaBackend::copy(void* dst, Device dst_device, const void* src, Device src_device,
                       size_t nbytes) {
  if (nbytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, nbytes);
    return;
  }
  if (dst_device.is_cuda() && src_device.is_cuda() && dst_device.index != src_device.index) {
    // Work on the source device is ordered only on that device's streams: let it finish
    // before the destination device's stream reads the memory.
    {
      DeviceGuard source_guard(src_device.index);
      CUDA_CHECK(cudaStreamSynchronize(current_stream()));
    }
    DeviceGuard guard(dst_device.index);
    CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_device.index, src, src_device.index, nbytes,
                                   current_stream()));
    CUDA_CHECK(cudaStreamSynchronize(current_stream()));
    return;
  }
  const cudaMemcpyKind kind = src_device.is_cpu()   ? cudaMemcpyHostToDevice
                              : dst_device.is_cpu() ? cudaMemcpyDeviceToHost
                                                    : cudaMemcpyDeviceToDevice;
  DeviceGuard guard(dst_device.is_cuda() ? dst_device.index : src_device.index);
  CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, kind, current_stream()));
  // The contract: on return the copy is visible to the host, and a host source may be freed.
  CUDA_CHECK(cudaStreamSynchronize(current_stream()));
}

void CudaBackend::synchronize(int device_index) {
  DeviceGuard guard(device_index);
  CUDA_CHECK(cudaDeviceSynchronize());
}

int CudaBackend::device_count() { return cuda::device_count(); }

void CudaBackend::set_thread_device(int device_index) { CUDA_CHECK(cudaSetDevice(device_index)); }

CudaBackend& cuda_backend() {
  // Never destroyed: tensors freed during static destruction still call deallocate().
  static CudaBackend* backend = new CudaBackend();
  return *backend;
}

}  // namespace kite::cuda
