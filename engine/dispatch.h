// The dispatch table: each op's forward finds its kernel by (op, device type) here.
//
// The ops library defines one DispatchStub per kernel signature and fills the CPU slot; the
// CUDA library fills the CUDA slot when it is linked in (a plug-in back end). Calling a stub
// for a device without a kernel names the kernel and the device instead of crashing.
#pragma once

#include "engine/backend.h"
#include "engine/device.h"
#include "engine/error.h"

namespace kite {

template <class Fn>
class DispatchStub {
 public:
  constexpr DispatchStub(const char* name, Fn cpu_kernel) : name_(name) {
    table_[static_cast<int>(DeviceType::CPU)] = cpu_kernel;
  }
  void set(DeviceType type, Fn kernel) { table_[static_cast<int>(type)] = kernel; }
  bool has(DeviceType type) const { return table_[static_cast<int>(type)] != nullptr; }

  Fn get(Device device) const {
    Fn kernel = table_[static_cast<int>(device.type)];
    if (!kernel) {
      KITE_CHECK(has_backend(device.type), name_
                                               << ": device " << device.str()
                                               << " is not available: kite was built without CUDA");
      KITE_FAIL(name_ << ": no kernel for device " << device.str());
    }
    return kernel;
  }
  const char* name() const { return name_; }

 private:
  const char* name_;
  Fn table_[kNumDeviceTypes] = {};
};

}  // namespace kite
