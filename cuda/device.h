// CUDA device management: how many devices there are, which one is current, what each one
// is. Plain C++ (no CUDA headers), so benchmarks and tests can print device information.
//
// kite never changes the current device behind the caller's back for long: code that works
// on a tensor's device holds a DeviceGuard, which restores the previous device on exit.
#pragma once

#include <cstddef>
#include <string>

namespace kite::cuda {

// Number of visible CUDA devices; 0 when there is no driver or no device (never throws).
// Asked once per process: devices do not come and go while it runs.
int device_count();

int current_device();
void set_device(int index);  // throws kite::Error naming the index when it does not exist

struct DeviceInfo {
  int index = 0;
  std::string name;
  size_t total_memory = 0;  // bytes
  int compute_major = 0, compute_minor = 0;
  int multiprocessors = 0;
};
DeviceInfo device_info(int index);
// "cuda:0 NVIDIA H200 (sm_90, 132 SMs, 140.4 GiB)".
std::string describe_device(int index);

// Streaming multiprocessors of a device, cached (used for launch geometry).
int multiprocessor_count(int index);

// Makes `index` current for the guard's lifetime (no driver call when it already is). While
// a guard lives, current_device() on its thread answers from the guard without asking the
// runtime; nested guards for the same device make no runtime call at all. Code inside a
// guard must therefore change the device only through another DeviceGuard.
class DeviceGuard {
 public:
  explicit DeviceGuard(int index);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int outer_guarded_;     // the enclosing guard's device on this thread, -1 for none
  int previous_ = -1;     // the device to restore
  bool changed_ = false;  // whether this guard switched device
};

}  // namespace kite::cuda
