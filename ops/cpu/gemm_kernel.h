// GEMM micro-kernels and their cache-block sizes: the machine-specific half of the CPU GEMM.
//
// A micro-kernel multiplies one packed MR x kc sliver of A by one packed kc x NR sliver of B
// and writes the MR x NR result into C. MR x NR is the "register tile": all of its
// accumulators live in SIMD registers for the whole k loop, so each loaded value of A or B
// feeds many fused multiply-adds. Every kernel comes with block sizes (kc, mc, nc) chosen for
// its register tile and for the caches of the target CPU (see the comments at each kernel).
//
// The driver (gemm.cpp) owns the loops, packing and threading; it asks gemm_kernels<T>() which
// kernels this CPU can run and takes the first (fastest). Tests and benchmarks may pass any
// kernel of that list to gemm_with_kernel() to exercise the slower ones too.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "ops/cpu/gemm_pack.h"

namespace kite::cpu {

// Packed layouts (written by gemm_pack.h):
//   a_sliver[p * MR + r] = op(A)(row0 + r, p0 + p), rows past the matrix edge are zero;
//   b_sliver[p * b_stride + j] = op(B)(p0 + p, col0 + j), columns past the edge are zero.
// b_stride is NR for a packed sliver; when a sliver of B is used only once, the driver may
// skip packing it and pass the original B with b_stride = ldb instead.
// A kernel computes the first ROWS rows of acc = a_sliver * b_sliver (ROWS x NR) and stores
//   C = alpha * acc            when beta == 0 (C is not read),
//   C = alpha * acc + beta * C otherwise,
// at c with row stride ldc. Each kernel family has one instance per ROWS = 1..MR, so a sliver
// cut short by the bottom edge of C costs only the rows it has; tiles cut short by the right
// edge go through a scratch tile in the driver.
template <class T>
using MicroKernel = void (*)(int64_t kc, const T* a_sliver, const T* b_sliver, int64_t b_stride,
                             T alpha, T beta, T* c, int64_t ldc);

constexpr int kMaxMr = 16;  // largest MR of any kernel

// Packing routines with the kernel's sliver widths built in (see gemm_pack.h).
template <class T>
using PackA = void (*)(bool trans_a, const T* a, int64_t lda, int64_t row0, int64_t rows,
                       int64_t p0, int64_t kc, int64_t first_sliver, int64_t end_sliver, T* dst);
template <class T>
using PackB = void (*)(bool trans_b, const T* b, int64_t ldb, int64_t p0, int64_t kc, int64_t col0,
                       int64_t cols, T* dst);

template <class T>
struct GemmKernel {
  const char* name;  // "avx512", "avx2", "generic"
  int mr;            // register tile rows (elements of A per k step)
  int nr;      // register tile columns (elements of B per k step), a multiple of the SIMD width
  int64_t kc;  // depth of one packed block: an MR x kc sliver of A stays in L1
  int64_t mc;  // rows of A packed at once: an mc x kc block shared by all threads, in L3
  int64_t nc;  // columns of B packed per thread: a kc x nc block kept in that core's L2
  MicroKernel<T> run[kMaxMr + 1];  // run[rows] computes `rows` rows, 1 <= rows <= mr
  PackA<T> pack_a;                 // pack_a<T, mr>
  PackB<T> pack_b;                 // pack_b<T, nr>
};

// Builds a kernel descriptor from a micro-kernel template Kernel<ROWS>::run (one instance per
// row count) and the packing routines that match its MR x NR tile.
template <class T, int MR, int NR, template <int> class Kernel>
GemmKernel<T> make_gemm_kernel(const char* name, int64_t kc, int64_t mc, int64_t nc) {
  static_assert(MR >= 1 && MR <= kMaxMr);
  GemmKernel<T> kernel{name, MR, NR, kc, mc, nc, {}, &pack_a<T, MR>, &pack_b<T, NR>};
  [&]<int... Rows>(std::integer_sequence<int, Rows...>) {
    ((kernel.run[Rows + 1] = Kernel<Rows + 1>::run), ...);
  }
  (std::make_integer_sequence<int, MR>());
  return kernel;
}

// One factory per instruction set, defined in gemm_kernel_<isa>.cpp. The avx512/avx2 ones
// are compiled with function-level target attributes, so they must only be *called* after
// the matching cpu_has_* check below.
template <class T>
GemmKernel<T> gemm_kernel_avx512();
template <class T>
GemmKernel<T> gemm_kernel_avx2();
template <class T>
GemmKernel<T> gemm_kernel_generic();

bool cpu_has_avx512();  // AVX-512 Foundation
bool cpu_has_avx2();    // AVX2 and FMA

// Kernels this CPU can run, fastest first; the last one is always "generic".
template <class T>
const std::vector<GemmKernel<T>>& gemm_kernels();

// gemm() with a chosen kernel (same contract as kite::cpu::gemm in gemm.h).
template <class T>
void gemm_with_kernel(const GemmKernel<T>& kernel, bool trans_a, bool trans_b, int64_t m, int64_t n,
                      int64_t k, T alpha, const T* a, int64_t lda, const T* b, int64_t ldb, T beta,
                      T* c, int64_t ldc);

}  // namespace kite::cpu
