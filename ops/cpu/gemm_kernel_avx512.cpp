// AVX-512 GEMM micro-kernels (float: 12 x 32 tile, double: 12 x 16 tile).
//
// The project is built for x86-64-v3 (AVX2), so this file turns AVX-512 on per function with
// __attribute__((target("avx512f"))). The driver only calls these kernels after
// cpu_has_avx512() said yes, so the binary still runs on CPUs without AVX-512.
//
// Why 12 x 2 vectors: AVX-512 has 32 vector registers. 12 rows x 2 vectors = 24 accumulators,
// plus 2 registers for the row of B and 1 for the broadcast element of A = 27, leaving a few
// spare. Each k step loads 2 vectors of B and 12 scalars of A and issues 24 FMAs, so the loads
// stay well below the two per cycle the core can do, and 24 independent accumulators hide the
// FMA latency (4 cycles on Zen 4, which runs a 512-bit FMA as two 256-bit halves).
#include <immintrin.h>

#include "ops/cpu/gemm_kernel.h"

#define KITE_GEMM_TARGET __attribute__((target("avx512f")))

namespace kite::cpu {
namespace {

// Overloads on the element type let one kernel template serve float and double.
template <class T>
struct Simd;
template <>
struct Simd<float> {
  using Vec = __m512;
  static constexpr int lanes = 16;
};
template <>
struct Simd<double> {
  using Vec = __m512d;
  static constexpr int lanes = 8;
};

KITE_GEMM_TARGET inline __m512 load(const float* p) { return _mm512_loadu_ps(p); }
KITE_GEMM_TARGET inline __m512d load(const double* p) { return _mm512_loadu_pd(p); }
KITE_GEMM_TARGET inline void store(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
KITE_GEMM_TARGET inline void store(double* p, __m512d v) { _mm512_storeu_pd(p, v); }
KITE_GEMM_TARGET inline __m512 broadcast(float x) { return _mm512_set1_ps(x); }
KITE_GEMM_TARGET inline __m512d broadcast(double x) { return _mm512_set1_pd(x); }
KITE_GEMM_TARGET inline __m512 fma(__m512 a, __m512 b, __m512 c) {
  return _mm512_fmadd_ps(a, b, c);
}
KITE_GEMM_TARGET inline __m512d fma(__m512d a, __m512d b, __m512d c) {
  return _mm512_fmadd_pd(a, b, c);
}
KITE_GEMM_TARGET inline __m512 mul(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
KITE_GEMM_TARGET inline __m512d mul(__m512d a, __m512d b) { return _mm512_mul_pd(a, b); }

// No software prefetching: the packed slivers are read sequentially, which the hardware
// prefetchers handle. Prefetching the C tile at the start of the kernel was tried and made
// whole GEMMs ~8% slower on Zen 4 (the early C lines push the A sliver out of L1).
#include "ops/cpu/gemm_register_tile.inc"

}  // namespace

// Block sizes for Zen 4 (L1d 32 KiB, L2 1 MiB per core, L3 32 MiB shared):
//   kc: the 12 x kc sliver of A is reused by every micro-kernel call of the inner loop, so
//       it should sit in L1 next to the streaming B sliver: 12 * 384 * 4 B = 18 KiB (float).
//   nc: the kc x nc block of B is swept once per sliver of A and must stay in L2:
//       384 * 512 * 4 B = 768 KiB (float) of the 1 MiB.
//   mc: the mc x kc block of A is shared by both cores and read once per B block from L3:
//       1920 * 384 * 4 B = 2.8 MiB.
// double has half the elements per byte: kc halves, so the L1 and L2 footprints stay the same.
template <>
GemmKernel<float> gemm_kernel_avx512<float>() {
  return make_gemm_kernel<float, 12, 2 * Simd<float>::lanes, Kernels<float, 12>::Rows>(
      "avx512", 384, 1920, 512);
}
template <>
GemmKernel<double> gemm_kernel_avx512<double>() {
  return make_gemm_kernel<double, 12, 2 * Simd<double>::lanes, Kernels<double, 12>::Rows>(
      "avx512", 192, 1920, 512);
}

bool cpu_has_avx512() { return __builtin_cpu_supports("avx512f"); }

}  // namespace kite::cpu
