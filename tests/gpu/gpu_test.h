// Shared by the GPU tests: whether a CUDA device can be used, and the skip that every GPU
// test starts with. The tests build (and skip) in a build without CUDA too: they reach the
// GPU only through the engine (to_device, Device::cuda), and the parts that need the CUDA
// library itself sit under KITE_WITH_CUDA (defined by the kite_cuda target).
#pragma once

#include <gtest/gtest.h>

#include "engine/backend.h"

namespace kite::test {

// A CUDA back end is linked and its cudaGetDeviceCount found at least one device.
inline bool cuda_device_available() {
  return has_backend(DeviceType::CUDA) && backend_for(DeviceType::CUDA).device_count() > 0;
}

inline const char* no_cuda_reason() {
  return has_backend(DeviceType::CUDA) ? "no CUDA device"
                                       : "no CUDA device (kite was built without CUDA)";
}

}  // namespace kite::test

// First line of every GPU test.
#define KITE_REQUIRE_CUDA()                                                                     \
  do {                                                                                          \
    if (!::kite::test::cuda_device_available()) GTEST_SKIP() << ::kite::test::no_cuda_reason(); \
  } while (0)
