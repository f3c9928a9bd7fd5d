// AVX2 + FMA GEMM micro-kernels (float: 6 x 16 tile, double: 6 x 8 tile).
//
// The default build (-march=x86-64-v3) already allows AVX2, but the functions still carry
// __attribute__((target("avx2,fma"))) so the file also builds for older -march values; the
// driver then calls them only after cpu_has_avx2().
//
// Why 6 x 2 vectors: AVX2 has 16 vector registers. 6 rows x 2 vectors = 12 accumulators,
// plus 2 for the row of B and 1 for the broadcast element of A = 15. Twelve independent FMA
// chains cover the FMA latency (4 cycles) times the two FMA units of the core.
#include <immintrin.h>

#include "ops/cpu/gemm_kernel.h"

#define KITE_AVX2 __attribute__((target("avx2,fma")))

namespace kite::cpu {
namespace {

template <class T>
struct Ymm;
template <>
struct Ymm<float> {
  using Vec = __m256;
  static constexpr int lanes = 8;
};
template <>
struct Ymm<double> {
  using Vec = __m256d;
  static constexpr int lanes = 4;
};

KITE_AVX2 inline __m256 load(const float* p) { return _mm256_loadu_ps(p); }
KITE_AVX2 inline __m256d load(const double* p) { return _mm256_loadu_pd(p); }
KITE_AVX2 inline void store(float* p, __m256 v) { _mm256_storeu_ps(p, v); }
KITE_AVX2 inline void store(double* p, __m256d v) { _mm256_storeu_pd(p, v); }
KITE_AVX2 inline __m256 broadcast(float x) { return _mm256_set1_ps(x); }
KITE_AVX2 inline __m256d broadcast(double x) { return _mm256_set1_pd(x); }
KITE_AVX2 inline __m256 fma(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
KITE_AVX2 inline __m256d fma(__m256d a, __m256d b, __m256d c) { return _mm256_fmadd_pd(a, b, c); }
KITE_AVX2 inline __m256 mul(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
KITE_AVX2 inline __m256d mul(__m256d a, __m256d b) { return _mm256_mul_pd(a, b); }

// The register tile is ROWS (<= MR) rows x 2 vectors. The two accumulator columns are
// separate arrays (not one [ROWS][2] array) because GCC then keeps every accumulator in a
// register; with a 2-D array it spilled one row of B to the stack.
template <class T, int MR, int ROWS>
KITE_AVX2 void micro_kernel(int64_t kc, const T* a, const T* b, int64_t b_stride, T alpha, T beta,
                            T* c, int64_t ldc) {
  using Vec = typename Ymm<T>::Vec;
  constexpr int lanes = Ymm<T>::lanes;

  Vec acc_left[ROWS], acc_right[ROWS];  // columns [0, lanes) and [lanes, 2 * lanes)
#pragma GCC unroll 16
  for (int r = 0; r < ROWS; ++r) acc_left[r] = acc_right[r] = broadcast(T(0));

  for (int64_t p = 0; p < kc; ++p) {
    const Vec b_left = load(b), b_right = load(b + lanes);
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r) {
      const Vec a_elem = broadcast(a[r]);
      acc_left[r] = fma(a_elem, b_left, acc_left[r]);
      acc_right[r] = fma(a_elem, b_right, acc_right[r]);
    }
    a += MR;
    b += b_stride;
  }

  const Vec alpha_v = broadcast(alpha);
  if (beta == T(0)) {
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r) {
      store(c + r * ldc, mul(alpha_v, acc_left[r]));
      store(c + r * ldc + lanes, mul(alpha_v, acc_right[r]));
    }
  } else {
    const Vec beta_v = broadcast(beta);
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r) {
      T* row = c + r * ldc;
      store(row, fma(alpha_v, acc_left[r], mul(beta_v, load(row))));
      store(row + lanes, fma(alpha_v, acc_right[r], mul(beta_v, load(row + lanes))));
    }
  }
}

// Binds T and MR so that make_gemm_kernel can instantiate one kernel per row count.
template <class T, int MR>
struct Kernels {
  template <int ROWS>
  struct Rows {
    static constexpr MicroKernel<T> run = &micro_kernel<T, MR, ROWS>;
  };
};

}  // namespace

// Block sizes for Zen 4 (L1d 32 KiB, L2 1 MiB per core, L3 32 MiB shared), same reasoning as
// the AVX-512 kernel (see gemm_kernel_avx512.cpp):
//   kc: 6 x kc sliver of A in L1: 6 * 512 * 4 B = 12 KiB (float);
//   nc: kc x nc block of B in L2: 512 * 384 * 4 B = 768 KiB (float);
//   mc: mc x kc block of A in L3: 1920 * 512 * 4 B = 3.75 MiB.
template <>
GemmKernel<float> gemm_kernel_avx2<float>() {
  return make_gemm_kernel<float, 6, 2 * Ymm<float>::lanes, Kernels<float, 6>::Rows>("avx2", 512,
                                                                                    1920, 384);
}
template <>
GemmKernel<double> gemm_kernel_avx2<double>() {
  return make_gemm_kernel<double, 6, 2 * Ymm<double>::lanes, Kernels<double, 6>::Rows>("avx2", 256,
                                                                                       1920, 384);
}

bool cpu_has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

}  // namespace kite::cpu
