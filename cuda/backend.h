// The CUDA implementation of the engine's Backend interface (engine/backend.h).
#pragma once

#include "engine/backend.h"

namespace kite::cuda {

class CudaBackend final : public Backend {
 public:
  void* allocate(size_t nbytes, int device_index) override;
  void deallocate(void* ptr, int device_index) override;
  // Host<->device, device<->device (same or different devices); returns when done.
  void copy(void* dst, Device dst_device, const void* src, Device src_device,
            size_t nbytes) override;
  void synchronize(int device_index) override;
  int device_count() override;                        // 0 without a driver or device
  void set_thread_device(int device_index) override;  // cudaSetDevice
};

// The process-wide instance that cuda/register.cpp registers.
CudaBackend& cuda_backend();

}  // namespace kite::cuda
