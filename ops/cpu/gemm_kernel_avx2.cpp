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

#define KITE_GEMM_TARGET __attribute__((target("avx2,fma")))

namespace kite::cpu {
namespace {

template <class T>
struct Simd;
template <>
struct Simd<float> {
  using Vec = __m256;
  static constexpr int lanes = 8;
};
template <>
struct Simd<double> {
  using Vec = __m256d;
  static constexpr int lanes = 4;
};

KITE_GEMM_TARGET inline __m256 load(const float* p) { return _mm256_loadu_ps(p); }
KITE_GEMM_TARGET inline __m256d load(const double* p) { return _mm256_loadu_pd(p); }
KITE_GEMM_TARGET inline void store(float* p, __m256 v) { _mm256_storeu_ps(p, v); }
KITE_GEMM_TARGET inline void store(double* p, __m256d v) { _mm256_storeu_pd(p, v); }
KITE_GEMM_TARGET inline __m256 broadcast(float x) { return _mm256_set1_ps(x); }
KITE_GEMM_TARGET inline __m256d broadcast(double x) { return _mm256_set1_pd(x); }
KITE_GEMM_TARGET inline __m256 fma(__m256 a, __m256 b, __m256 c) {
  return _mm256_fmadd_ps(a, b, c);
}
KITE_GEMM_TARGET inline __m256d fma(__m256d a, __m256d b, __m256d c) {
  return _mm256_fmadd_pd(a, b, c);
}
KITE_GEMM_TARGET inline __m256 mul(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
KITE_GEMM_TARGET inline __m256d mul(__m256d a, __m256d b) { return _mm256_mul_pd(a, b); }

#include "ops/cpu/gemm_register_tile.inc"

}  // namespace

// Block sizes for Zen 4 (L1d 32 KiB, L2 1 MiB per core, L3 32 MiB shared), same reasoning as
// the AVX-512 kernel (see gemm_kernel_avx512.cpp):
//   kc: 6 x kc sliver of A in L1: 6 * 512 * 4 B = 12 KiB (float);
//   nc: kc x nc block of B in L2: 512 * 384 * 4 B = 768 KiB (float);
//   mc: mc x kc block of A in L3: 1920 * 512 * 4 B = 3.75 MiB.
template <>
GemmKernel<float> gemm_kernel_avx2<float>() {
  return make_gemm_kernel<float, 6, 2 * Simd<float>::lanes, Kernels<float, 6>::Rows>("avx2", 512,
                                                                                     1920, 384);
}
template <>
GemmKernel<double> gemm_kernel_avx2<double>() {
  return make_gemm_kernel<double, 6, 2 * Simd<double>::lanes, Kernels<double, 6>::Rows>("avx2", 256,
                                                                                        1920, 384);
}

bool cpu_has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

}  // namespace kite::cpu
