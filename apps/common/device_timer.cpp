// DeviceTimer and the device copy (see device_timer.h).
#include "apps/common/device_timer.h"

#include "engine/backend.h"
#include "engine/error.h"

#if defined(KITE_WITH_CUDA)
#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/stream.h"
#endif

namespace kite::apps {

DeviceTimer::DeviceTimer(Device device) : device_(device) {
  if (!device.is_cuda()) return;
#if defined(KITE_WITH_CUDA)
  cuda::DeviceGuard guard(device.index);
  cudaEvent_t start = nullptr, stop = nullptr;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  start_event_ = start;
  stop_event_ = stop;
#else
  KITE_FAIL("DeviceTimer: " << device.str() << " needs a build with CUDA");
#endif
}

DeviceTimer::~DeviceTimer() {
#if defined(KITE_WITH_CUDA)
  // No check: a destructor must not throw, and a failed destroy leaks only an event.
  if (start_event_ != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(start_event_));
  if (stop_event_ != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(stop_event_));
#endif
}

void DeviceTimer::start() {
#if defined(KITE_WITH_CUDA)
  if (device_.is_cuda()) {
    cuda::DeviceGuard guard(device_.index);
    CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(start_event_), cuda::current_stream()));
    return;
  }
#endif
  start_time_ = std::chrono::steady_clock::now();
}

double DeviceTimer::stop_ms() {
#if defined(KITE_WITH_CUDA)
  if (device_.is_cuda()) {
    cuda::DeviceGuard guard(device_.index);
    auto start = static_cast<cudaEvent_t>(start_event_);
    auto stop = static_cast<cudaEvent_t>(stop_event_);
    CUDA_CHECK(cudaEventRecord(stop, cuda::current_stream()));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    return ms;
  }
#endif
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_time_)
      .count();
}

void synchronize(Device device) { backend_for(device.type).synchronize(device.index); }

void device_copy_async(void* dst, const void* src, size_t bytes, Device device) {
  KITE_CHECK(device.is_cuda(), "device_copy_async: " << device.str() << " is not a GPU");
#if defined(KITE_WITH_CUDA)
  cuda::DeviceGuard guard(device.index);
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda::current_stream()));
#else
  (void)dst;
  (void)src;
  (void)bytes;
  KITE_FAIL("device_copy_async: this build has no CUDA back end");
#endif
}

}  // namespace kite::apps
