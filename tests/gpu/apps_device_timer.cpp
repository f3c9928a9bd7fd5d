// The benchmarks' timer (apps/common/device_timer.h): on the CPU it measures a known sleep; on
// a GPU its CUDA events time queued work (a device-to-device copy, whose result is checked),
// and the copy refuses a CPU device. The GPU half skips without a GPU.
#include <chrono>
#include <thread>
#include <vector>

#include "apps/common/device_timer.h"
#include "engine/error.h"
#include "gpu_test.h"
#include "ops/factory.h"

namespace kite {
namespace {

TEST(DeviceTimer, MeasuresASleepOnTheCpu) {
  apps::DeviceTimer timer(Device::cpu());
  timer.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double ms = timer.stop_ms();
  EXPECT_GE(ms, 20.0);
  EXPECT_LT(ms, 2000.0);
  EXPECT_THROW(apps::device_copy_async(nullptr, nullptr, 0, Device::cpu()), Error);
}

TEST(DeviceTimer, TimesACopyOnTheGpu) {
  KITE_REQUIRE_CUDA();
  const Device gpu = Device::cuda(0);
  const int64_t n = int64_t{1} << 24;  // 64 MB of float32
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = double(i % 1000) - 500.0;
  const Tensor src = to_device(to_dtype(Tensor::from_vector(values, {n}), DType::Float32), gpu);
  const Tensor dst = Tensor::empty({n}, DType::Float32, gpu);
  apps::DeviceTimer timer(gpu);
  timer.start();
  apps::device_copy_async(dst.data_ptr<float>(), src.data_ptr<float>(), n * sizeof(float), gpu);
  const double ms = timer.stop_ms();
  EXPECT_GT(ms, 0.0);
  EXPECT_LT(ms, 1000.0);  // 128 MB moved: well under a second on any GPU
  EXPECT_EQ(to_double_vector(dst), values);
}

}  // namespace
}  // namespace kite
