// Device management and the current stream (see device.h and stream.h).
#include "cuda/device.h"

#include <atomic>
#include <cstdio>
#include <memory>
#include <sstream>

#include "cuda/check.h"
#include "cuda/stream.h"
#include "engine/error.h"

namespace kite::cuda {
namespace {

thread_local cudaStream_t tls_stream = nullptr;

// The device the innermost live DeviceGuard of this thread made current, or -1 outside any
// guard. Inside a guard it is the current device (kite's own code runs there, and the guard
// set it), so current_device() reads it instead of asking the runtime again: launch geometry
// and the cuBLAS handle ask on every op, and each cudaGetDevice costs host time. Outside a
// guard the caller may have changed the device with the runtime directly, so the runtime is
// asked.
thread_local int tls_guarded_device = -1;

}  // namespace

int device_count() {
  static int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();  // no driver / no device: report zero devices, leave no error behind
      n = 0;
    }
    return n;
  }();
  return count;
}

int current_device() {
  if (tls_guarded_device >= 0) return tls_guarded_device;
  int index = 0;
  CUDA_CHECK(cudaGetDevice(&index));
  return index;
}

void set_device(int index) {
  const int count = device_count();
  KITE_CHECK(index >= 0 && index < count, "cuda: device cuda:" << index << " does not exist ("
                                                               << count
                                                               << " CUDA device(s) visible)");
  CUDA_CHECK(cudaSetDevice(index));
}

DeviceInfo device_info(int index) {
  KITE_CHECK(index >= 0 && index < device_count(),
             "cuda: device cuda:" << index << " does not exist (" << device_count()
                                  << " CUDA device(s) visible)");
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  DeviceInfo info;
  info.index = index;
  info.name = prop.name;
  info.total_memory = prop.totalGlobalMem;
  info.compute_major = prop.major;
  info.compute_minor = prop.minor;
  info.multiprocessors = prop.multiProcessorCount;
  return info;
}

std::string describe_device(int index) {
  const DeviceInfo info = device_info(index);
  std::ostringstream out;
  char gib[32];
  std::snprintf(gib, sizeof gib, "%.1f", static_cast<double>(info.total_memory) / (1u << 30));
  out << "cuda:" << index << " " << info.name << " (sm_" << info.compute_major << info.compute_minor
      << ", " << info.multiprocessors << " SMs, " << gib << " GiB)";
  return out.str();
}

int multiprocessor_count(int index) {
  // One slot per device, filled on first use and read without a lock afterwards: every
  // kernel launch asks. Two threads filling a slot at once store the same value.
  static const int count = device_count();
  static const std::unique_ptr<std::atomic<int>[]> cache(new std::atomic<int>[count]());
  KITE_CHECK(index >= 0 && index < count, "cuda: device cuda:" << index << " does not exist");
  int value = cache[index].load(std::memory_order_relaxed);
  if (value == 0) {
    CUDA_CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrMultiProcessorCount, index));
    cache[index].store(value, std::memory_order_relaxed);
  }
  return value;
}

DeviceGuard::DeviceGuard(int index) : outer_guarded_(tls_guarded_device) {
  if (outer_guarded_ == index) return;  // an enclosing guard made it current: nothing to do
  previous_ = current_device();
  changed_ = previous_ != index;
  if (changed_) set_device(index);
  tls_guarded_device = index;
}

DeviceGuard::~DeviceGuard() {
  // A destructor must not throw; restoring a device that was valid a moment ago cannot fail
  // short of a lost context, which later calls report anyway.
  if (changed_) cudaSetDevice(previous_);
  tls_guarded_device = outer_guarded_;
}

cudaStream_t current_stream() { return tls_stream; }

StreamGuard::StreamGuard(cudaStream_t stream) : previous_(tls_stream) { tls_stream = stream; }

StreamGuard::~StreamGuard() { tls_stream = previous_; }

}  // namespace kite::cuda
