// The cublasLt plans behind single GPU matrix products (cuda/gemm_plan.h): one plan per shape
// and alignment, kept and reused; products through them match the CPU for aligned and
// misaligned operands, transposed views, shapes whose plans may use a workspace and TF32.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/generator.h"
#include "engine/tensor.h"
#include "ops/ops.h"
#include "tests/gpu/gpu_test.h"

#if defined(KITE_WITH_CUDA)
#include "cuda/blas.h"
#include "cuda/gemm_plan.h"
#endif

namespace kite {
namespace {

#if defined(KITE_WITH_CUDA)

const Device kCuda = Device::cuda(0);

// Largest |gpu - cpu| / (|cpu| + 1) over the product's entries, the CPU product in float64.
double worst_relative_error(const Tensor& a, const Tensor& b) {
  const Tensor exact = matmul(to_dtype(to_device(a, Device::cpu()), DType::Float64),
                              to_dtype(to_device(b, Device::cpu()), DType::Float64));
  const std::vector<double> want = to_double_vector(exact);
  const std::vector<double> got = to_double_vector(matmul(a, b));
  EXPECT_EQ(got.size(), want.size());
  double worst = 0;
  for (size_t i = 0; i < want.size() && i < got.size(); ++i)
    worst = std::max(worst, std::abs(got[i] - want[i]) / (std::abs(want[i]) + 1.0));
  return worst;
}

// A rows x cols matrix on the GPU starting `offset` elements into its storage, so that its
// first element is aligned to only offset * element-size bytes.
Tensor at_offset(int64_t rows, int64_t cols, int64_t offset, DType dtype, Generator& g) {
  const Tensor flat = to_device(randn({offset + rows * cols}, dtype, Device::cpu(), &g), kCuda);
  return flat.as_strided({rows, cols}, {cols, 1}, offset);
}

TEST(CudaGemmPlan, PointerAlignmentIsTheLargestPowerOfTwoUpTo256) {
  // Pure arithmetic on addresses: runs without a GPU.
  EXPECT_EQ(cuda::pointer_alignment(reinterpret_cast<void*>(uintptr_t{0x1000})), 256u);
  EXPECT_EQ(cuda::pointer_alignment(reinterpret_cast<void*>(uintptr_t{0x1080})), 128u);
  EXPECT_EQ(cuda::pointer_alignment(reinterpret_cast<void*>(uintptr_t{0x1004})), 4u);
  EXPECT_EQ(cuda::pointer_alignment(reinterpret_cast<void*>(uintptr_t{0x1008})), 8u);
  EXPECT_EQ(cuda::pointer_alignment(reinterpret_cast<void*>(uintptr_t{0x1001})), 1u);
}

TEST(CudaGemmPlan, WorkspaceOfferedToLargeAndLongKProducts) {
  // Pure arithmetic: runs without a GPU.
  EXPECT_FALSE(cuda::gemm_offers_workspace(256, 256, 256));  // small: one kernel is faster
  EXPECT_FALSE(cuda::gemm_offers_workspace(1, 4096, 4096));  // a row times a matrix
  EXPECT_TRUE(cuda::gemm_offers_workspace(512, 512, 512));   // large
  EXPECT_TRUE(cuda::gemm_offers_workspace(64, 25, 50176));   // a conv weight gradient
  EXPECT_TRUE(cuda::gemm_offers_workspace(128, 64, 12544));  // another
  EXPECT_TRUE(cuda::gemm_offers_workspace(1 << 20, 1 << 20, 1 << 20));  // no overflow
}

TEST(CudaGemmPlan, KeyHashAndEqualitySeeEveryField) {
  const cuda::GemmPlanKey base{false, false, false, true, 64, 32, 16, 64, 32, 64, 256, 256, 256};
  const cuda::GemmPlanKeyHash hash;
  std::vector<cuda::GemmPlanKey> changed(13, base);
  changed[0].float64 = true;
  changed[1].tf32 = true;
  changed[2].trans_a = true;
  changed[3].trans_b = false;
  changed[4].m = 65;
  changed[5].n = 33;
  changed[6].k = 17;
  changed[7].lda = 65;
  changed[8].ldb = 33;
  changed[9].ldc = 65;
  changed[10].align_a = 4;
  changed[11].align_b = 4;
  changed[12].align_c = 4;
  for (size_t i = 0; i < changed.size(); ++i) {
    EXPECT_FALSE(changed[i] == base) << "field " << i;
    EXPECT_NE(hash(changed[i]), hash(base)) << "field " << i;
  }
  EXPECT_EQ(hash(base), hash(cuda::GemmPlanKey(base)));
}

TEST(CudaGemmPlan, OnePlanPerShapeKeptAcrossCalls) {
  KITE_REQUIRE_CUDA();
  Generator g(11);
  const Tensor a = to_device(randn({48, 40}, DType::Float32, Device::cpu(), &g), kCuda);
  const Tensor b = to_device(randn({40, 24}, DType::Float32, Device::cpu(), &g), kCuda);
  const size_t before = cuda::gemm_plan_count();
  for (int i = 0; i < 5; ++i) matmul(a, b);
  EXPECT_EQ(cuda::gemm_plan_count(), before + 1);
  matmul(b.as_strided({24, 40}, {1, 24}, 0), a.as_strided({40, 48}, {1, 40}, 0));  // new shape
  EXPECT_EQ(cuda::gemm_plan_count(), before + 2);
  for (int i = 0; i < 5; ++i) matmul(a, b);
  EXPECT_EQ(cuda::gemm_plan_count(), before + 2);
}

TEST(CudaGemmPlan, MisalignedOperandsGetTheirOwnPlanAndMatchTheCpu) {
  KITE_REQUIRE_CUDA();
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const double tolerance = dtype == DType::Float32 ? 1e-5 : 1e-12;
    Generator g(12);
    const Tensor a = at_offset(33, 29, 0, dtype, g), b = at_offset(29, 17, 0, dtype, g);
    EXPECT_LT(worst_relative_error(a, b), tolerance) << dtype_name(dtype) << " aligned";
    const size_t plans = cuda::gemm_plan_count();
    // One element in: 4- or 8-byte alignment, which the heuristic must be told.
    const Tensor a1 = at_offset(33, 29, 1, dtype, g), b1 = at_offset(29, 17, 3, dtype, g);
    EXPECT_LT(worst_relative_error(a1, b1), tolerance) << dtype_name(dtype) << " misaligned";
    EXPECT_EQ(cuda::gemm_plan_count(), plans + 1) << dtype_name(dtype);
  }
}

TEST(CudaGemmPlan, TransposedAndLargeProductsMatchTheCpu) {
  KITE_REQUIRE_CUDA();
  Generator g(13);
  // Every combination of transposed operands; a 512^3 product and a long-K one are offered a
  // workspace (gemm_offers_workspace), so possibly split-K.
  struct Case {
    int64_t m, n, k;
  };
  for (const Case c :
       {Case{37, 21, 45}, Case{512, 512, 512}, Case{1, 300, 700}, Case{16, 9, 6000}}) {
    for (DType dtype : {DType::Float32, DType::Float64}) {
      const double tolerance = dtype == DType::Float32 ? 2e-7 * std::sqrt(double(c.k)) * 10 : 1e-12;
      for (bool ta : {false, true})
        for (bool tb : {false, true}) {
          const Tensor a_stored = to_device(
              randn(ta ? Shape{c.k, c.m} : Shape{c.m, c.k}, dtype, Device::cpu(), &g), kCuda);
          const Tensor b_stored = to_device(
              randn(tb ? Shape{c.n, c.k} : Shape{c.k, c.n}, dtype, Device::cpu(), &g), kCuda);
          const Tensor a = ta ? transpose(a_stored, 0, 1) : a_stored;
          const Tensor b = tb ? transpose(b_stored, 0, 1) : b_stored;
          EXPECT_LT(worst_relative_error(a, b), tolerance)
              << dtype_name(dtype) << " " << c.m << "x" << c.n << "x" << c.k << " ta " << ta
              << " tb " << tb;
        }
    }
  }
}

TEST(CudaGemmPlan, Tf32SwitchReachesTheKeptPlans) {
  KITE_REQUIRE_CUDA();
  Generator g(14);
  const Tensor a = to_device(randn({128, 512}, DType::Float32, Device::cpu(), &g), kCuda);
  const Tensor b = to_device(randn({512, 128}, DType::Float32, Device::cpu(), &g), kCuda);
  const double full = worst_relative_error(a, b);
  cuda::set_allow_tf32(true);
  const double tf32 = worst_relative_error(a, b);
  cuda::set_allow_tf32(false);
  const double full_again = worst_relative_error(a, b);
  // TF32 keeps 10 mantissa bits of each factor: ~1e-3 relative over 512 terms, against ~1e-6.
  EXPECT_LT(full, 1e-4);
  EXPECT_GT(tf32, 1e-4);
  EXPECT_LT(tf32, 5e-2);
  EXPECT_EQ(full_again, full);
}

#endif  // KITE_WITH_CUDA

}  // namespace
}  // namespace kite
