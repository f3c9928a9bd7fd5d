// Timing work on a device, for the benchmarks. A GPU runs kernels asynchronously, so a host
// clock read after a launch times the launch, not the kernel; CUDA events recorded on the
// stream kite's kernels use (cuda/stream.h) time the work itself, and stop_ms() waits for it.
// On the CPU the same calls read the steady clock.
//
//   DeviceTimer timer(device);
//   timer.start();
//   matmul(a, b);
//   const double ms = timer.stop_ms();
//
// Also here, for the GPU benchmarks' yardsticks: an asynchronous device-to-device copy on that
// same stream (cudaMemcpyAsync, what "copy bandwidth" means for a GPU).
#pragma once

#include <chrono>
#include <cstddef>

#include "engine/device.h"

namespace kite::apps {

class DeviceTimer {
 public:
  explicit DeviceTimer(Device device);
  ~DeviceTimer();
  DeviceTimer(const DeviceTimer&) = delete;
  DeviceTimer& operator=(const DeviceTimer&) = delete;

  void start();
  // Milliseconds since start(), once the work queued on the device since then has finished.
  double stop_ms();

 private:
  Device device_;
  std::chrono::steady_clock::time_point start_time_;
  void* start_event_ = nullptr;  // cudaEvent_t on a GPU
  void* stop_event_ = nullptr;
};

// Waits until the device has finished everything queued on it.
void synchronize(Device device);

// Queues a copy of `bytes` from `src` to `dst`, both on the GPU `device`, on kite's stream.
// Throws in a build without CUDA.
void device_copy_async(void* dst, const void* src, size_t bytes, Device device);

}  // namespace kite::apps
