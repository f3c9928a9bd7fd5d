// Tests of the CPU GEMM (ops/cpu/gemm.h): every micro-kernel this CPU can run, against a naive
// triple loop, over edge-heavy shapes, all transposes, alpha/beta combinations, padded leading
// dimensions, 1 and 2 OpenMP threads, and calls from inside a parallel region.
#include "ops/cpu/gemm.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/error.h"
#include "ops/cpu/gemm_kernel.h"

namespace kite::cpu {
namespace {

// The reference sums in a wider type than T (double for float, long double for double).
template <class T>
using Wide = std::conditional_t<std::is_same_v<T, float>, double, long double>;

struct Shape {
  int64_t m, n, k;
};

// A stored matrix of rows x cols with leading dimension cols + pad. The padding holds NaN so
// that any read of it poisons the result.
template <class T>
struct Matrix {
  int64_t rows, cols, ld;
  std::vector<T> data;
  Matrix(int64_t r, int64_t c, int64_t pad, std::mt19937_64& rng)
      : rows(r), cols(c), ld(c + pad), data(static_cast<size_t>(std::max<int64_t>(r * ld, 1))) {
    std::uniform_real_distribution<double> dist(-1.0, 1.0);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < ld; ++j)
        data[i * ld + j] = j < cols ? T(dist(rng)) : std::numeric_limits<T>::quiet_NaN();
  }
};

struct Case {
  bool trans_a, trans_b;
  Shape shape;
  double alpha, beta;
  int64_t pad;  // extra elements per row of A, B and C
};

std::string describe(const Case& c) {
  std::ostringstream out;
  out << (c.trans_a ? "T" : "N") << (c.trans_b ? "T" : "N") << " m=" << c.shape.m
      << " n=" << c.shape.n << " k=" << c.shape.k << " alpha=" << c.alpha << " beta=" << c.beta
      << " pad=" << c.pad;
  return out.str();
}

// Runs one case with `kernel` and checks every element of C against the naive product within
// the worst-case rounding bound of a length-k dot product, (k + 2) u (|alpha| sum|a||b| +
// |beta| |c0|). Padding of C must come back untouched.
template <class T>
::testing::AssertionResult check_case(const GemmKernel<T>& kernel, const Case& cs, uint64_t seed) {
  const auto [m, n, k] = cs.shape;
  std::mt19937_64 rng(seed);
  const Matrix<T> a(cs.trans_a ? k : m, cs.trans_a ? m : k, cs.pad, rng);
  const Matrix<T> b(cs.trans_b ? n : k, cs.trans_b ? k : n, cs.pad, rng);
  Matrix<T> c(m, n, cs.pad, rng);
  const T c_padding_marker = T(12345);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = n; j < c.ld; ++j) c.data[i * c.ld + j] = c_padding_marker;
  // beta == 0 must not read C: fill it with NaN.
  if (cs.beta == 0)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c.data[i * c.ld + j] = std::numeric_limits<T>::quiet_NaN();
  const std::vector<T> c0 = c.data;

  gemm_with_kernel<T>(kernel, cs.trans_a, cs.trans_b, m, n, k, T(cs.alpha), a.data.data(), a.ld,
                      b.data.data(), b.ld, T(cs.beta), c.data.data(), c.ld);

  const Wide<T> unit_roundoff = std::numeric_limits<T>::epsilon() / 2;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < c.ld; ++j) {
      const T got = c.data[i * c.ld + j];
      if (j >= n) {
        if (got != c_padding_marker)
          return ::testing::AssertionFailure() << describe(cs) << ": padding of C at (" << i << ", "
                                               << j << ") was overwritten with " << got;
        continue;
      }
      Wide<T> sum = 0, magnitude = 0;
      for (int64_t p = 0; p < k; ++p) {
        const Wide<T> av = cs.trans_a ? a.data[p * a.ld + i] : a.data[i * a.ld + p];
        const Wide<T> bv = cs.trans_b ? b.data[j * b.ld + p] : b.data[p * b.ld + j];
        sum += av * bv;
        magnitude += std::fabs(av * bv);
      }
      Wide<T> expected = Wide<T>(cs.alpha) * sum;
      Wide<T> bound_scale = std::fabs(Wide<T>(cs.alpha)) * magnitude;
      if (cs.beta != 0) {
        expected += Wide<T>(cs.beta) * c0[i * c.ld + j];
        bound_scale += std::fabs(Wide<T>(cs.beta) * c0[i * c.ld + j]);
      }
      const Wide<T> bound = Wide<T>(k + 2) * unit_roundoff * bound_scale;
      const Wide<T> error = std::fabs(Wide<T>(got) - expected);
      if (!(error <= bound))  // also catches NaN
        return ::testing::AssertionFailure()
               << describe(cs) << " kernel " << kernel.name << ": C(" << i << ", " << j
               << ") = " << got << ", expected " << double(expected) << " (error " << double(error)
               << " > bound " << double(bound) << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

// Sizes around the register tiles (1, 7, 13 are below / between MR and NR; 64 and 65 are a
// multiple of every NR and one past it; 127 and 200 are odd or cover several tiles).
const std::vector<Shape>& mixed_shapes() {
  static const std::vector<Shape> shapes = [] {
    std::vector<Shape> list;
    for (int64_t m : {0, 1, 7, 13})
      for (int64_t n : {0, 1, 7, 13})
        for (int64_t k : {0, 1, 7, 13}) list.push_back({m, n, k});
    const std::vector<Shape> larger = {{64, 65, 127}, {65, 64, 200}, {127, 200, 13}, {200, 127, 65},
                                       {1, 200, 127}, {200, 1, 64},  {127, 65, 1},   {13, 127, 200},
                                       {64, 64, 64},  {65, 13, 7},   {7, 200, 65},   {200, 13, 1}};
    list.insert(list.end(), larger.begin(), larger.end());
    return list;
  }();
  return shapes;
}

// Shapes that cross the cache blocks of the kernels: k > kc (several depth blocks, so beta is
// applied once and later blocks accumulate), m > mc (several row blocks), n > nc (several
// column blocks per thread). {5, 70, 777} also reads B in place (a single sliver of A)
// across several depth blocks.
const std::vector<Shape>& block_crossing_shapes() {
  static const std::vector<Shape> shapes = {
      {13, 37, 777}, {2003, 5, 3}, {3, 1300, 5}, {5, 70, 777}};
  return shapes;
}

struct AlphaBeta {
  double alpha, beta;
};
const std::vector<AlphaBeta> kAlphaBetas = {{1, 0}, {-1.5, 0.25}, {0.75, 1}, {0, -2}};

template <class T>
class GemmTest : public ::testing::Test {};
using Dtypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GemmTest, Dtypes);

// Every kernel, both thread counts, all transposes, dense and padded. The alpha/beta pairs
// rotate from case to case, so each shape meets every pair under each kernel (4 transposes x
// 2 thread counts = 8 cases per shape) while the test stays fast.
TYPED_TEST(GemmTest, MatchesNaiveProductOnMixedShapes) {
  using T = TypeParam;
  uint64_t seed = 1;
  for (const GemmKernel<T>& kernel : gemm_kernels<T>())
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      for (const Shape& shape : mixed_shapes())
        for (bool ta : {false, true})
          for (bool tb : {false, true}) {
            const AlphaBeta ab = kAlphaBetas[(seed + threads) % kAlphaBetas.size()];
            const Case cs{ta, tb, shape, ab.alpha, ab.beta, (seed % 3 == 0) ? 3 : 0};
            ASSERT_TRUE(check_case(kernel, cs, seed++))
                << "threads=" << threads << " kernel=" << kernel.name;
          }
    }
}

TYPED_TEST(GemmTest, MatchesNaiveProductAcrossCacheBlocks) {
  using T = TypeParam;
  uint64_t seed = 100;
  for (const GemmKernel<T>& kernel : gemm_kernels<T>())
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      for (const Shape& shape : block_crossing_shapes())
        for (bool ta : {false, true})
          for (bool tb : {false, true}) {
            const Case cs{ta, tb, shape, -0.5, 0.5, 2};
            ASSERT_TRUE(check_case(kernel, cs, seed++))
                << "threads=" << threads << " kernel=" << kernel.name;
          }
    }
}

// Products with enough work for two threads: a C narrower than one column sliver, whose rows
// the threads split, and a wider one with a ragged last sliver, whose columns they split.
TYPED_TEST(GemmTest, TwoThreadsSplitRowsOrColumns) {
  using T = TypeParam;
  omp_set_num_threads(2);
  const std::vector<Shape> shapes = {{1000, 3, 600}, {130, 200, 70}};
  uint64_t seed = 200;
  int variant = 0;
  for (const GemmKernel<T>& kernel : gemm_kernels<T>())
    for (const Shape& shape : shapes) {
      const bool trans = variant++ % 2 == 1;  // alternate NN and TT
      const Case cs{trans, trans, shape, 1.25, -0.5, 1};
      ASSERT_TRUE(check_case(kernel, cs, seed++)) << "kernel=" << kernel.name;
    }
}

// The public entry point uses the first kernel of the list, and that is AVX-512 where the
// CPU has it.
TYPED_TEST(GemmTest, PublicEntryPointPicksFastestKernel) {
  using T = TypeParam;
  const std::string expected = cpu_has_avx512() ? "avx512" : cpu_has_avx2() ? "avx2" : "generic";
  EXPECT_EQ(gemm_kernel_name<T>(), expected);

  std::mt19937_64 rng(5);
  const int64_t m = 33, n = 47, k = 29;
  const Matrix<T> a(m, k, 0, rng), b(k, n, 0, rng);
  std::vector<T> via_gemm(m * n), via_kernel(m * n);
  gemm<T>(false, false, m, n, k, T(1), a.data.data(), k, b.data.data(), n, T(0), via_gemm.data(),
          n);
  gemm_with_kernel<T>(gemm_kernels<T>().front(), false, false, m, n, k, T(1), a.data.data(), k,
                      b.data.data(), n, T(0), via_kernel.data(), n);
  EXPECT_EQ(via_gemm, via_kernel);
}

// Called from inside a parallel region, gemm runs on the calling thread only; each thread's
// product must still be right (no shared scratch between concurrent calls).
TYPED_TEST(GemmTest, ConcurrentCallsFromParallelRegion) {
  using T = TypeParam;
  const int64_t m = 70, n = 90, k = 110;
  constexpr int kCalls = 4;
  std::vector<std::vector<T>> outputs(kCalls);
  std::vector<std::vector<T>> expected(kCalls);
  std::vector<Matrix<T>> as, bs;
  std::mt19937_64 rng(11);
  for (int call = 0; call < kCalls; ++call) {
    as.emplace_back(m, k, 0, rng);
    bs.emplace_back(k, n, 0, rng);
    expected[call].resize(m * n);
    outputs[call].assign(m * n, std::numeric_limits<T>::quiet_NaN());
    gemm<T>(false, false, m, n, k, T(1), as[call].data.data(), k, bs[call].data.data(), n, T(0),
            expected[call].data(), n);
  }
  omp_set_num_threads(2);
  bool saw_parallel = false;
#pragma omp parallel for schedule(static, 1)
  for (int call = 0; call < kCalls; ++call) {
    if (omp_in_parallel()) {
#pragma omp atomic write
      saw_parallel = true;
    }
    gemm<T>(false, false, m, n, k, T(1), as[call].data.data(), k, bs[call].data.data(), n, T(0),
            outputs[call].data(), n);
  }
  EXPECT_TRUE(saw_parallel || omp_get_num_procs() == 1);
  // The same kernel with the same blocking sums in the same order on one thread or two.
  for (int call = 0; call < kCalls; ++call) EXPECT_EQ(outputs[call], expected[call]) << call;
}

// With alpha == 0 (or k == 0) C becomes beta * C and A and B are never read: NaN inputs must
// not leak into C.
TYPED_TEST(GemmTest, AlphaZeroOrEmptyDepthOnlyScalesC) {
  using T = TypeParam;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const int64_t m = 20, n = 40, k = 30;
  const std::vector<T> a(m * k, nan), b(k * n, nan);
  std::vector<T> c(m * n);
  for (size_t i = 0; i < c.size(); ++i) c[i] = T(i % 7) - T(3);
  const std::vector<T> c0 = c;
  for (const GemmKernel<T>& kernel : gemm_kernels<T>()) {
    c = c0;
    gemm_with_kernel<T>(kernel, false, false, m, n, k, T(0), a.data(), k, b.data(), n, T(2),
                        c.data(), n);
    for (size_t i = 0; i < c.size(); ++i) ASSERT_EQ(c[i], T(2) * c0[i]) << kernel.name << " " << i;
    c = c0;
    gemm_with_kernel<T>(kernel, false, false, m, n, 0, T(1), a.data(), k, b.data(), n, T(-1),
                        c.data(), n);
    for (size_t i = 0; i < c.size(); ++i) ASSERT_EQ(c[i], -c0[i]) << kernel.name << " " << i;
    std::fill(c.begin(), c.end(), nan);
    gemm_with_kernel<T>(kernel, false, false, m, n, k, T(0), a.data(), k, b.data(), n, T(0),
                        c.data(), n);
    for (size_t i = 0; i < c.size(); ++i) ASSERT_EQ(c[i], T(0)) << kernel.name << " " << i;
  }
}

TYPED_TEST(GemmTest, RejectsBadArguments) {
  using T = TypeParam;
  std::vector<T> buf(64, T(1));
  // Negative size.
  EXPECT_THROW(
      gemm<T>(false, false, -1, 2, 2, T(1), buf.data(), 2, buf.data(), 2, T(0), buf.data(), 2),
      Error);
  // lda smaller than the stored row of A (k = 4 columns when not transposed).
  EXPECT_THROW(
      gemm<T>(false, false, 2, 2, 4, T(1), buf.data(), 3, buf.data(), 2, T(0), buf.data(), 2),
      Error);
  // Transposed A is stored k x m, so lda must cover m = 5.
  EXPECT_THROW(
      gemm<T>(true, false, 5, 2, 2, T(1), buf.data(), 4, buf.data(), 2, T(0), buf.data(), 2),
      Error);
  // ldb and ldc too small.
  EXPECT_THROW(
      gemm<T>(false, false, 2, 3, 2, T(1), buf.data(), 2, buf.data(), 2, T(0), buf.data(), 3),
      Error);
  EXPECT_THROW(
      gemm<T>(false, false, 2, 3, 2, T(1), buf.data(), 2, buf.data(), 3, T(0), buf.data(), 2),
      Error);
}

}  // namespace
}  // namespace kite::cpu
