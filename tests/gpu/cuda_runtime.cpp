// The CUDA runtime pieces: kernel registration, check macros, devices, host<->device copies,
// the caching allocator's reuse / out-of-memory / statistics, pinned uploads, and the Philox
// streams (CPU generator == CUDA kernels == cuRAND's own device generator).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/generator.h"
#include "engine/tensor.h"
#include "ops/ops.h"
#include "tests/gpu/gpu_test.h"

#if defined(KITE_WITH_CUDA)
#include "cuda/allocator.h"
#include "cuda/blas.h"
#include "cuda/check.h"
#include "cuda/curand_reference.h"
#include "cuda/device.h"
#include "cuda/pinned.h"
#include "ops/det_kernels.h"
#include "ops/elementwise_kernels.h"
#include "ops/factory_kernels.h"
#include "ops/linalg_kernels.h"
#include "ops/nn_kernels.h"
#include "ops/optim_kernels_dispatch.h"
#include "ops/reduce_kernels.h"
#include "ops/shape_kernels.h"
#endif

namespace kite {
namespace {

const Device kCuda = Device::cuda(0);

std::string what_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#if defined(KITE_WITH_CUDA)

// Needs no GPU: linking kite_cuda must have filled the CUDA slot of every stub.
TEST(CudaRegistration, EveryStubHasACudaKernel) {
  const DeviceType c = DeviceType::CUDA;
  EXPECT_TRUE(has_backend(c));
  EXPECT_TRUE(unary_stub.has(c) && binary_stub.has(c) && where_stub.has(c));
  EXPECT_TRUE(fill_stub.has(c) && copy_stub.has(c) && random_stub.has(c));
  EXPECT_TRUE(reduce_stub.has(c) && arg_reduce_stub.has(c));
  EXPECT_TRUE(index_select_stub.has(c) && index_add_stub.has(c) && gather_stub.has(c) &&
              scatter_add_stub.has(c));
  EXPECT_TRUE(matmul_stub.has(c) && lu_stub.has(c));
  EXPECT_TRUE(conv2d_stub.has(c) && conv_transpose2d_stub.has(c) && conv2d_weight_grad_stub.has(c));
  EXPECT_TRUE(max_pool2d_stub.has(c) && max_pool2d_backward_stub.has(c) && avg_pool2d_stub.has(c) &&
              avg_pool2d_backward_stub.has(c) && adaptive_avg_pool2d_stub.has(c) &&
              adaptive_avg_pool2d_backward_stub.has(c));
  EXPECT_TRUE(upsample_nearest2d_stub.has(c) && upsample_bilinear2d_stub.has(c) &&
              upsample_bilinear2d_backward_stub.has(c));
  EXPECT_TRUE(norm_moments_stub.has(c) && norm_apply_stub.has(c) &&
              batch_norm_backward_stub.has(c) && norm_backward_stub.has(c));
  EXPECT_TRUE(sgd_step_stub.has(c) && adam_step_stub.has(c) && sum_of_squares_stub.has(c) &&
              scale_stub.has(c));
}

// Needs no GPU: the messages name the status, the call as written, the file and the line.
TEST(CudaCheckMacros, ThrowWithCallFileAndLine) {
  const std::string cuda = what_of([] { CUDA_CHECK(cudaErrorInvalidValue); });
  EXPECT_NE(cuda.find("cudaErrorInvalidValue"), std::string::npos) << cuda;
  EXPECT_NE(cuda.find("cuda_runtime.cpp:"), std::string::npos) << cuda;
  const std::string blas = what_of([] { CUBLAS_CHECK(CUBLAS_STATUS_INVALID_VALUE); });
  EXPECT_NE(blas.find("CUBLAS_STATUS_INVALID_VALUE"), std::string::npos) << blas;
  EXPECT_NE(blas.find("cuda_runtime.cpp:"), std::string::npos) << blas;
  const std::string rand = what_of([] { CURAND_CHECK(CURAND_STATUS_LAUNCH_FAILURE); });
  EXPECT_NE(rand.find("CURAND_STATUS_LAUNCH_FAILURE"), std::string::npos) << rand;
  // The call text appears as written.
  const std::string call = what_of([] { CUDA_CHECK(cudaSetDevice(-1)); });
  EXPECT_NE(call.find("cudaSetDevice(-1)"), std::string::npos) << call;
}

TEST(CudaDevice, CountAndProperties) {
  KITE_REQUIRE_CUDA();
  EXPECT_EQ(cuda::device_count(), backend_for(DeviceType::CUDA).device_count());
  const cuda::DeviceInfo info = cuda::device_info(0);
  EXPECT_FALSE(info.name.empty());
  EXPECT_GT(info.total_memory, size_t{0});
  EXPECT_GE(info.compute_major, 7);
  EXPECT_GT(info.multiprocessors, 0);
  const std::string text = cuda::describe_device(0);
  EXPECT_NE(text.find("sm_"), std::string::npos) << text;
  std::cout << "[ device   ] " << text << "\n";
}

// current_device() inside a DeviceGuard answers from the guard; it must agree with the
// runtime at every step, and a guard must put back the device it found.
TEST(CudaDevice, GuardsAgreeWithTheRuntimeAndRestore) {
  KITE_REQUIRE_CUDA();
  const auto runtime_device = [] {
    int index = -1;
    CUDA_CHECK(cudaGetDevice(&index));
    return index;
  };
  cuda::set_device(0);
  {
    cuda::DeviceGuard outer(0);
    EXPECT_EQ(cuda::current_device(), 0);
    {
      cuda::DeviceGuard inner(0);
      EXPECT_EQ(cuda::current_device(), 0);
    }
    EXPECT_EQ(cuda::current_device(), 0);
    EXPECT_EQ(runtime_device(), 0);
  }
  if (cuda::device_count() < 2)
    GTEST_SKIP() << "only one CUDA device: nesting across devices untested";
  {
    cuda::DeviceGuard on_one(1);
    EXPECT_EQ(cuda::current_device(), 1);
    EXPECT_EQ(runtime_device(), 1);
    {
      cuda::DeviceGuard back_on_zero(0);
      EXPECT_EQ(cuda::current_device(), 0);
      EXPECT_EQ(runtime_device(), 0);
    }
    EXPECT_EQ(cuda::current_device(), 1);
    EXPECT_EQ(runtime_device(), 1);
  }
  EXPECT_EQ(runtime_device(), 0);
  // Outside any guard the runtime is asked, so a device set directly is seen.
  CUDA_CHECK(cudaSetDevice(1));
  EXPECT_EQ(cuda::current_device(), 1);
  cuda::set_device(0);
  EXPECT_EQ(cuda::current_device(), 0);
}

TEST(CudaAllocator, ReusesFreedBlocksOfTheSameSize) {
  KITE_REQUIRE_CUDA();
  { Tensor warm = Tensor::empty({1000}, DType::Float32, kCuda); }  // the block is now cached
  const cuda::AllocatorStats before = cuda::allocator_stats(0);
  {
    Tensor t = Tensor::empty({1000}, DType::Float32, kCuda);
    const cuda::AllocatorStats during = cuda::allocator_stats(0);
    EXPECT_EQ(during.cuda_malloc_calls, before.cuda_malloc_calls);
    EXPECT_EQ(during.cache_hits, before.cache_hits + 1);
    EXPECT_EQ(during.current_bytes, before.current_bytes + 4096);  // 4000 rounded to 512s
    EXPECT_GE(during.peak_bytes, during.current_bytes);
  }
  const cuda::AllocatorStats after = cuda::allocator_stats(0);
  EXPECT_EQ(after.current_bytes, before.current_bytes);
  EXPECT_EQ(after.cuda_malloc_calls, before.cuda_malloc_calls);
}

TEST(CudaAllocator, OutOfMemoryReleasesTheCacheAndRetries) {
  KITE_REQUIRE_CUDA();
  { Tensor cached = Tensor::empty({1 << 20}, DType::Float32, kCuda); }
  const cuda::AllocatorStats before = cuda::allocator_stats(0);
  ASSERT_GT(before.cached_bytes, size_t{0});
  const int64_t too_many = static_cast<int64_t>(cuda::device_info(0).total_memory);  // x4 bytes
  const std::string message =
      what_of([&] { Tensor huge = Tensor::empty({too_many}, DType::Float32, kCuda); });
  EXPECT_NE(message.find("out of memory"), std::string::npos) << message;
  const cuda::AllocatorStats after = cuda::allocator_stats(0);
  EXPECT_EQ(after.oom_retries, before.oom_retries + 1);
  EXPECT_EQ(after.cached_bytes, size_t{0});  // the cache went back to the driver
  EXPECT_GT(after.cuda_free_calls, before.cuda_free_calls);
  // The failure leaves no error behind: the next allocation and kernel work.
  Tensor ok = full({16}, 2.0, DType::Float32, kCuda);
  EXPECT_EQ(to_double_vector(ok)[15], 2.0);
}

TEST(CudaAllocator, EmptyCacheAndPeak) {
  KITE_REQUIRE_CUDA();
  cuda::reset_peak_bytes(0);
  const size_t base = cuda::allocator_stats(0).current_bytes;
  { Tensor t = Tensor::empty({3 << 20}, DType::Float32, kCuda); }  // 12 MiB
  const cuda::AllocatorStats s = cuda::allocator_stats(0);
  EXPECT_GE(s.peak_bytes, base + (size_t{12} << 20));
  EXPECT_EQ(s.current_bytes, base);
  cuda::empty_cache();
  EXPECT_EQ(cuda::allocator_stats(0).cached_bytes, size_t{0});
  EXPECT_NE(cuda::format_allocator_stats(0).find("cudaMalloc"), std::string::npos);
}

TEST(CudaPinned, UploadAsyncThenSynchronize) {
  KITE_REQUIRE_CUDA();
  const int64_t n = 5000;
  cuda::PinnedBuffer buffer(n * sizeof(float));
  float* host = static_cast<float*>(buffer.data());
  for (int64_t i = 0; i < n; ++i) host[i] = 0.5f * static_cast<float>(i);
  Tensor dst = Tensor::empty({n}, DType::Float32, kCuda);
  cuda::upload_async(buffer, dst);
  cuda::synchronize_stream(0);
  const std::vector<double> back = to_double_vector(dst);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(back[i], 0.5 * static_cast<double>(i)) << i;
  EXPECT_THROW(cuda::upload_async(buffer, Tensor::empty({n + 1}, DType::Float32, kCuda)), Error);
}

// kite's Philox stream (engine/philox.h) is cuRAND's: raw words agree exactly.
TEST(CudaPhilox, RawWordsMatchCurand) {
  KITE_REQUIRE_CUDA();
  for (uint64_t seed : {uint64_t{0}, uint64_t{42}, uint64_t{0x123456789abcdefULL}}) {
    for (uint64_t offset : {uint64_t{0}, uint64_t{3}, uint64_t{1000001}}) {
      const int64_t n = 1027;
      const std::vector<uint32_t> reference = cuda::curand_philox_words(seed, 0, offset, n);
      Generator generator;
      generator.set_state({seed, offset});
      std::vector<uint32_t> ours(n);
      generator.fill(ours.data(), n);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(ours[i], reference[i])
            << "seed " << seed << " offset " << offset << " word " << i;
    }
  }
}

TEST(CudaBlas, Tf32IsOffByDefault) {
  KITE_REQUIRE_CUDA();
  EXPECT_FALSE(cuda::allow_tf32());
  // Float32 products of 512 terms: TF32 (10-bit mantissa products) would be off by ~1e-3
  // relative; full float32 stays near 1e-6.
  Generator g(5);
  Tensor a = randn({64, 512}, DType::Float64, Device::cpu(), &g);
  Tensor b = randn({512, 32}, DType::Float64, Device::cpu(), &g);
  const std::vector<double> exact = to_double_vector(matmul(a, b));
  const std::vector<double> gpu =
      to_double_vector(matmul(to_device(to_dtype(a, DType::Float32), kCuda),
                              to_device(to_dtype(b, DType::Float32), kCuda)));
  double worst = 0.0;
  for (size_t i = 0; i < exact.size(); ++i)
    worst = std::max(worst, std::abs(gpu[i] - exact[i]) / (std::abs(exact[i]) + 1.0));
  EXPECT_LT(worst, 1e-4);
}

#endif  // KITE_WITH_CUDA

TEST(CudaCopies, RoundTripEveryDtype) {
  KITE_REQUIRE_CUDA();
  const Shape shape{3, 5, 7};
  std::vector<double> values(105);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>((i * 37) % 101);
  const Tensor base = Tensor::from_vector(values, shape);
  for (DType dtype : {DType::Float32, DType::Float64, DType::Int64, DType::UInt8}) {
    const Tensor host = to_dtype(base, dtype);
    const Tensor device = to_device(host, kCuda);
    EXPECT_EQ(device.device(), kCuda);
    EXPECT_EQ(to_double_vector(to_device(device, Device::cpu())), values) << dtype_name(dtype);
    // Device to device (contiguous copy kernel) and a transposed view moved to the host.
    EXPECT_EQ(to_double_vector(clone(device)), values) << dtype_name(dtype);
    EXPECT_EQ(to_double_vector(to_device(transpose(device, 0, 2), Device::cpu())),
              to_double_vector(transpose(host, 0, 2)))
        << dtype_name(dtype);
  }
  // A strided host view moved to the device.
  EXPECT_EQ(to_double_vector(to_device(transpose(base, 1, 2), kCuda)),
            to_double_vector(transpose(base, 1, 2)));
}

TEST(CudaCopies, DtypeConversionOnTheDeviceMatchesTheCpu) {
  KITE_REQUIRE_CUDA();
  const Tensor base =
      Tensor::from_vector<double>({-2.75, -1.5, 0.0, 0.25, 1.5, 2.75, 100.5, 7.0}, {2, 4});
  const std::vector<std::pair<DType, DType>> pairs = {{DType::Float64, DType::Float32},
                                                      {DType::Float64, DType::Int64},
                                                      {DType::Float32, DType::Float64},
                                                      {DType::Int64, DType::Float32}};
  for (auto [from, to] : pairs) {
    const Tensor host = to_dtype(base, from);
    EXPECT_EQ(to_double_vector(to_dtype(to_device(host, kCuda), to)),
              to_double_vector(to_dtype(host, to)))
        << dtype_name(from) << " -> " << dtype_name(to);
  }
  // uint8 from non-negative values in range.
  const Tensor small = Tensor::from_vector<double>({0, 1, 200, 255}, {4});
  EXPECT_EQ(to_double_vector(to_dtype(to_device(small, kCuda), DType::UInt8)),
            std::vector<double>({0, 1, 200, 255}));
}

TEST(CudaCopies, CrossDeviceWhenThereAreTwo) {
  KITE_REQUIRE_CUDA();
  if (backend_for(DeviceType::CUDA).device_count() < 2) GTEST_SKIP() << "only one CUDA device";
  const Tensor x = arange(0, 1000, 1, DType::Float32, Device::cuda(0));
  const Tensor y = to_device(x, Device::cuda(1));
  EXPECT_EQ(y.device(), Device::cuda(1));
  EXPECT_EQ(to_double_vector(y), to_double_vector(x));
}

TEST(CudaDevice, MissingDeviceIsAnError) {
  KITE_REQUIRE_CUDA();
  const int count = backend_for(DeviceType::CUDA).device_count();
  const std::string message =
      what_of([&] { Tensor t = Tensor::empty({4}, DType::Float32, Device::cuda(count)); });
  EXPECT_NE(message.find("does not exist"), std::string::npos) << message;
}

// The GPU random kernels continue the CPU generator's stream: same state, same numbers, and
// the generator ends in the same state.
TEST(CudaPhilox, FillsMatchTheCpuGenerator) {
  KITE_REQUIRE_CUDA();
  for (uint64_t offset : {uint64_t{0}, uint64_t{5}}) {
    for (int64_t n : {int64_t{1}, int64_t{999}, int64_t{4096}}) {
      for (DType dtype : {DType::Float32, DType::Float64}) {
        Generator cpu_gen, gpu_gen;
        cpu_gen.set_state({1234, offset});
        gpu_gen.set_state({1234, offset});
        const std::string what = std::string(dtype_name(dtype)) + " n=" + std::to_string(n) +
                                 " offset=" + std::to_string(offset);
        // Uniform and Bernoulli: bit for bit.
        EXPECT_EQ(to_double_vector(rand({n}, dtype, Device::cpu(), &cpu_gen)),
                  to_double_vector(rand({n}, dtype, kCuda, &gpu_gen)))
            << "rand " << what;
        EXPECT_EQ(to_double_vector(bernoulli({n}, 0.3, dtype, Device::cpu(), &cpu_gen)),
                  to_double_vector(bernoulli({n}, 0.3, dtype, kCuda, &gpu_gen)))
            << "bernoulli " << what;
        // Normal: the same words through device sin/cos/log, a few ulp apart.
        const std::vector<double> c = to_double_vector(randn({n}, dtype, Device::cpu(), &cpu_gen));
        const std::vector<double> g = to_double_vector(randn({n}, dtype, kCuda, &gpu_gen));
        const double tol = dtype == DType::Float32 ? 2e-5 : 1e-13;
        for (int64_t i = 0; i < n; ++i)
          ASSERT_LE(std::abs(c[i] - g[i]), tol * (1.0 + std::abs(c[i])))
              << "randn " << what << " " << i;
        EXPECT_EQ(cpu_gen.state(), gpu_gen.state()) << what;
      }
    }
  }
}

}  // namespace
}  // namespace kite
