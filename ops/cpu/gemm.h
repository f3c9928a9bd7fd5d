// The engine's own matrix product on the CPU: C = alpha * op(A) * op(B) + beta * C.
//
// Row-major like cblas_sgemm(CblasRowMajor, ...): element (i, j) of a matrix with leading
// dimension ld lives at p[i * ld + j]. op(X) is X or its transpose; after op, A is m x k and
// B is k x n, C is m x n. The leading dimensions describe the stored (pre-op) matrices, so a
// transposed A is stored k x m and needs lda >= m.
//
// beta == 0 means "overwrite": C's old contents are never read, so C may hold NaNs or garbage.
// alpha == 0 or k == 0 leave C = beta * C (A and B are then not read).
//
// Thread safety: any number of threads may call gemm at once. It uses OpenMP threads itself
// (omp_get_max_threads()), unless it is called from inside a parallel region, where it runs
// on the calling thread alone so that nested calls never oversubscribe the cores.
// On a machine busy with other processes, libgomp's default waiting policy (threads spin
// between parallel regions) can stall each multi-threaded call for a whole scheduler period
// (tens of ms were measured here); OMP_WAIT_POLICY=passive avoids that.
//
// How it works (BLIS-style packing, cache blocking, SIMD micro-kernels) is explained in
// gemm.cpp; the micro-kernels and block sizes are in gemm_kernel*.{h,cpp}.
#pragma once

#include <cstdint>

namespace kite::cpu {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

extern template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*,
                                 int64_t, const float*, int64_t, float, float*, int64_t);
extern template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                                  int64_t, const double*, int64_t, double, double*, int64_t);

// Name of the micro-kernel gemm<T> uses on this CPU ("avx512", "avx2" or "generic").
template <class T>
const char* gemm_kernel_name();

}  // namespace kite::cpu
