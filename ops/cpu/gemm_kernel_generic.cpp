// Portable GEMM micro-kernel in plain C++ (4 x 8 tile): the fallback for CPUs without AVX2,
// and a simple reference for how every micro-kernel behaves.
//
// The compiler may vectorise the inner loop over j, but nothing here depends on it.
#include "ops/cpu/gemm_kernel.h"

namespace kite::cpu {
namespace {

constexpr int kGenericMr = 4;
constexpr int kGenericNr = 8;

template <class T, int ROWS>
void micro_kernel(int64_t kc, const T* a, const T* b, int64_t b_stride, T alpha, T beta, T* c,
                  int64_t ldc) {
  T acc[ROWS][kGenericNr] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int r = 0; r < ROWS; ++r)
      for (int j = 0; j < kGenericNr; ++j) acc[r][j] += a[r] * b[j];
    a += kGenericMr;
    b += b_stride;
  }
  for (int r = 0; r < ROWS; ++r)
    for (int j = 0; j < kGenericNr; ++j) {
      T& dst = c[r * ldc + j];
      dst = beta == T(0) ? alpha * acc[r][j] : alpha * acc[r][j] + beta * dst;
    }
}

template <class T>
struct Kernels {
  template <int ROWS>
  struct Rows {
    static constexpr MicroKernel<T> run = &micro_kernel<T, ROWS>;
  };
};

}  // namespace

// Small blocks: a 4 x 256 sliver of A (8 KiB in double) in L1, a 256 x 256 block of B in L2.
template <>
GemmKernel<float> gemm_kernel_generic<float>() {
  return make_gemm_kernel<float, kGenericMr, kGenericNr, Kernels<float>::Rows>("generic", 256, 1024,
                                                                               256);
}
template <>
GemmKernel<double> gemm_kernel_generic<double>() {
  return make_gemm_kernel<double, kGenericMr, kGenericNr, Kernels<double>::Rows>("generic", 256,
                                                                                 1024, 256);
}

}  // namespace kite::cpu
