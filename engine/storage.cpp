// Storage and the CPU back end (memory from the caching allocator of cpu_allocator.h).
#include "engine/storage.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/backend.h"
#include "engine/cpu_allocator.h"
#include "engine/error.h"

namespace kite {
namespace {

class CpuBackend final : public Backend {
 public:
  void* allocate(size_t nbytes, int) override { return cpu_allocate(nbytes); }
  void deallocate(void* ptr, int) override { cpu_deallocate(ptr); }
  void copy(void* dst, Device, const void* src, Device, size_t nbytes) override {
    if (nbytes) std::memcpy(dst, src, nbytes);
  }
  void synchronize(int) override {}
  int device_count() override { return 1; }
};

Backend*& backend_slot(DeviceType type) {
  static CpuBackend cpu;
  static Backend* table[kNumDeviceTypes] = {&cpu, nullptr};
  return table[static_cast<int>(type)];
}

}  // namespace

void register_backend(DeviceType type, Backend* backend) { backend_slot(type) = backend; }

bool has_backend(DeviceType type) { return backend_slot(type) != nullptr; }

Backend& backend_for(DeviceType type) {
  Backend* backend = backend_slot(type);
  KITE_CHECK(backend != nullptr, "device " << Device{type, 0}.str()
                                           << " is not available: kite was built without CUDA "
                                              "(or the CUDA back end was not linked)");
  return *backend;
}

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = backend_for(device.type).allocate(nbytes, device.index);
}

Storage::~Storage() {
  if (data_) backend_for(device_.type).deallocate(data_, device_.index);
}

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string digits = text.substr(5);
    KITE_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos,
               "bad device '" << text << "': expected cpu, cuda or cuda:N");
    return cuda(std::stoi(digits));
  }
  KITE_FAIL("bad device '" << text << "': expected cpu, cuda or cuda:N");
}

}  // namespace kite
