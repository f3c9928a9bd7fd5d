// Device management and the current stream (see device.h and stream.h).
#include "cuda/device.h"

#include <cstdio>
#include <mutex>
#include <sstream>
#include <vector>

#include "cuda/check.h"
#include "cuda/stream.h"
#include "engine/error.h"

namespace kite::cuda {
namespace {

thread_local cudaStream_t tls_stream = nullptr;

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
  static std::mutex mutex;
  static std::vector<int> cache;
  std::lock_guard<std::mutex> lock(mutex);
  if (cache.empty()) cache.assign(static_cast<size_t>(device_count()), 0);
  KITE_CHECK(index >= 0 && index < static_cast<int>(cache.size()),
             "cuda: device cuda:" << index << " does not exist");
  if (cache[index] == 0)
    CUDA_CHECK(cudaDeviceGetAttribute(&cache[index], cudaDevAttrMultiProcessorCount, index));
  return cache[index];
}

DeviceGuard::DeviceGuard(int index) : previous_(current_device()), changed_(previous_ != index) {
  if (changed_) set_device(index);
}

DeviceGuard::~DeviceGuard() {
  // A destructor must not throw; restoring a device that was valid a moment ago cannot fail
  // short of a lost context, which later calls report anyway.
  if (changed_) cudaSetDevice(previous_);
}

cudaStream_t current_stream() { return tls_stream; }

StreamGuard::StreamGuard(cudaStream_t stream) : previous_(tls_stream) { tls_stream = stream; }

StreamGuard::~StreamGuard() { tls_stream = previous_; }

}  // namespace kite::cuda
