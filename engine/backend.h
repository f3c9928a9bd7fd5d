// A device back end: how to allocate, free and copy memory on one kind of device.
//
// The engine ships the CPU back end. The CUDA library registers its own when it is linked in
// (see cuda/), so a CPU-only build is the same code minus one library: asking for CUDA memory
// there fails with "built without CUDA" instead of failing to link.
#pragma once

#include <cstddef>

#include "engine/device.h"

namespace kite {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual void* allocate(size_t nbytes, int device_index) = 0;
  virtual void deallocate(void* ptr, int device_index) = 0;
  // Copies nbytes between memory of this back end and host memory (either direction), or
  // within this back end. Blocks until the copy is visible to the host.
  virtual void copy(void* dst, Device dst_device, const void* src, Device src_device,
                    size_t nbytes) = 0;
  virtual void synchronize(int device_index) = 0;
  virtual int device_count() = 0;
  // Makes `device_index` the calling thread's current device, so that what the thread does
  // later without naming a device (a pinned host allocation) belongs to it. A new thread
  // starts on device 0. No-op for the CPU.
  virtual void set_thread_device(int device_index) { (void)device_index; }
};

void register_backend(DeviceType type, Backend* backend);
// Throws "built without CUDA" style errors when no back end is registered for the type.
Backend& backend_for(DeviceType type);
bool has_backend(DeviceType type);

}  // namespace kite
