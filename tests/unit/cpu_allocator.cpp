// The CPU caching allocator: size classes, reuse of freed blocks, the cache limit, and a
// steady-state loop of tensor ops that asks the system for no new memory.
#include <gtest/gtest.h>

#include <cstdlib>

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

// A stand-in for cudaHostAlloc / cudaFreeHost that counts its calls, so the routing through
// PinnedHostScope, the pinned free lists and the final free are checked without a GPU.
int fake_pinned_allocations = 0, fake_pinned_frees = 0;
void* fake_pinned_allocate(size_t nbytes) {
  ++fake_pinned_allocations;
  return std::aligned_alloc(64, nbytes);
}
void fake_pinned_free(void* ptr) {
  ++fake_pinned_frees;
  std::free(ptr);
}

TEST(CpuAllocator, PinnedScopeRoutesToTheRegisteredAllocator) {
  // The CUDA library (when linked) registered cudaHostAlloc; stand in for it, then restore.
  const auto real = registered_pinned_host_allocator();
  cpu_empty_cache();
  register_pinned_host_allocator(fake_pinned_allocate, fake_pinned_free);
  cpu_set_cache_limit(size_t{256} << 20);
  const size_t odd_size = 3 * 1000 * 1000 + 17;  // a class no other test uses
  void* plain = cpu_allocate(odd_size);
  EXPECT_FALSE(cpu_is_pinned(plain));
  EXPECT_EQ(fake_pinned_allocations, 0);
  void* pinned = nullptr;
  {
    PinnedHostScope scope;
    pinned = cpu_allocate(odd_size);
    PinnedHostScope off(false);  // nested scopes restore the outer setting
    void* inner = cpu_allocate(odd_size);
    EXPECT_FALSE(cpu_is_pinned(inner));
    cpu_deallocate(inner);
  }
  EXPECT_TRUE(cpu_is_pinned(pinned));
  EXPECT_EQ(fake_pinned_allocations, 1);
  // A freed pinned block serves the next pinned request, never a plain one.
  cpu_deallocate(pinned);
  void* plain_again = cpu_allocate(odd_size);
  EXPECT_NE(plain_again, pinned);
  EXPECT_FALSE(cpu_is_pinned(plain_again));
  {
    PinnedHostScope scope;
    void* reused = cpu_allocate(odd_size);
    EXPECT_EQ(reused, pinned);
    EXPECT_EQ(fake_pinned_allocations, 1);
    // Tensors made in the scope live in pinned memory.
    Tensor t = Tensor::empty({1000}, DType::Float32);
    EXPECT_TRUE(cpu_is_pinned(t.data_ptr<float>()));
    cpu_deallocate(reused);
  }
  cpu_deallocate(plain);
  cpu_deallocate(plain_again);
  cpu_empty_cache();  // pinned blocks go back through the registered free
  EXPECT_EQ(fake_pinned_frees, fake_pinned_allocations);
  register_pinned_host_allocator(real.first, real.second);
}

// The driver may refuse page-locked memory (a locked-memory limit, an exclusive-process GPU):
// the allocation then falls back to ordinary memory instead of failing.
int refused_pinned_allocations = 0;
void* refusing_pinned_allocate(size_t) {
  ++refused_pinned_allocations;
  return nullptr;
}

TEST(CpuAllocator, RefusedPinnedMemoryFallsBackToOrdinaryMemory) {
  const auto real = registered_pinned_host_allocator();
  cpu_empty_cache();
  register_pinned_host_allocator(refusing_pinned_allocate, fake_pinned_free);
  {
    PinnedHostScope scope;
    Tensor t = full({1000}, 2.5, DType::Float64);
    EXPECT_FALSE(cpu_is_pinned(t.data_ptr<double>()));
    EXPECT_EQ(to_double_vector(t)[999], 2.5);
  }
  EXPECT_EQ(refused_pinned_allocations, 2);  // the first try, and the one after emptying the cache
  cpu_empty_cache();
  register_pinned_host_allocator(real.first, real.second);
}

TEST(CpuAllocator, UnknownPointerIsIgnoredNotFreed) {
  int on_stack = 0;
  testing::internal::CaptureStderr();
  cpu_deallocate(&on_stack);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("unknown pointer"), std::string::npos);
}

}  // namespace
}  // namespace kite
