// The CPU caching allocator: size classes, reuse of freed blocks, the cache limit, and a
// steady-state loop of tensor ops that asks the system for no new memory.
#include <gtest/gtest.h>

#include "engine/cpu_allocator.h"
#include "engine/tensor.h"
#include "ops/ops.h"

namespace kite {
namespace {

TEST(CpuAllocator, SizeClassesWasteAtMostAnEighth) {
  EXPECT_EQ(cpu_size_class(0), 64u);
  EXPECT_EQ(cpu_size_class(1), 64u);
  EXPECT_EQ(cpu_size_class(64), 64u);
  EXPECT_EQ(cpu_size_class(65), 128u);
  EXPECT_EQ(cpu_size_class(4096), 4096u);
  EXPECT_EQ(cpu_size_class(4097), 4608u);
  for (size_t n = 1; n < (size_t{1} << 30); n = n * 3 + 7) {
    const size_t c = cpu_size_class(n);
    EXPECT_GE(c, n);
    EXPECT_EQ(c % 64, 0u);
    if (n > 4096) {
      EXPECT_LE(c - n, n / 8) << n;
    }
    EXPECT_EQ(cpu_size_class(c), c) << "a class is its own class";
  }
}

TEST(CpuAllocator, ReusesAFreedBlockOfTheSameClass) {
  cpu_set_cache_limit(size_t{256} << 20);
  void* a = cpu_allocate(100000);
  const CpuAllocatorStats before = cpu_allocator_stats();
  cpu_deallocate(a);
  EXPECT_EQ(cpu_allocator_stats().current_bytes, before.current_bytes - cpu_size_class(100000));
  void* b = cpu_allocate(99000);  // same class
  EXPECT_EQ(a, b);
  const CpuAllocatorStats after = cpu_allocator_stats();
  EXPECT_EQ(after.cache_hits, before.cache_hits + 1);
  EXPECT_EQ(after.system_allocations, before.system_allocations);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 64, 0u);
  cpu_deallocate(b);
}

TEST(CpuAllocator, ZeroLimitTurnsCachingOff) {
  cpu_set_cache_limit(0);
  EXPECT_EQ(cpu_allocator_stats().cached_bytes, 0u);
  void* a = cpu_allocate(1 << 20);
  cpu_deallocate(a);
  EXPECT_EQ(cpu_allocator_stats().cached_bytes, 0u);
  const uint64_t system = cpu_allocator_stats().system_allocations;
  void* b = cpu_allocate(1 << 20);
  EXPECT_EQ(cpu_allocator_stats().system_allocations, system + 1);
  cpu_deallocate(b);
  cpu_set_cache_limit(size_t{256} << 20);
}

TEST(CpuAllocator, PeakFollowsTheLargestLiveSet) {
  cpu_reset_peak_bytes();
  const size_t base = cpu_allocator_stats().current_bytes;
  void* a = cpu_allocate(1 << 20);
  void* b = cpu_allocate(1 << 20);
  cpu_deallocate(a);
  cpu_deallocate(b);
  const CpuAllocatorStats s = cpu_allocator_stats();
  EXPECT_EQ(s.current_bytes, base);
  EXPECT_EQ(s.peak_bytes, base + 2 * cpu_size_class(1 << 20));
  EXPECT_NE(format_cpu_allocator_stats().find("peak"), std::string::npos);
}

TEST(CpuAllocator, SteadyStateLoopMakesNoSystemAllocation) {
  cpu_set_cache_limit(size_t{256} << 20);
  Tensor w = randn({64, 64}, DType::Float32);
  w.set_requires_grad(true);
  auto step = [&] {
    Tensor x = randn({32, 64}, DType::Float32);
    Tensor loss = sum(square(relu(matmul(x, w))));
    loss.backward();
    w.zero_grad();
  };
  step();
  step();
  const uint64_t system = cpu_allocator_stats().system_allocations;
  for (int i = 0; i < 5; ++i) step();
  EXPECT_EQ(cpu_allocator_stats().system_allocations, system);
}

TEST(CpuAllocator, UnknownPointerIsIgnoredNotFreed) {
  int on_stack = 0;
  testing::internal::CaptureStderr();
  cpu_deallocate(&on_stack);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("unknown pointer"), std::string::npos);
}

}  // namespace
}  // namespace kite
