// Packing for the CPU GEMM: copies a block of op(A) or op(B) into the layout the micro-kernel
// reads with unit stride (see gemm_kernel.h), padding partial slivers with zeros.
//
// Packing costs one extra pass over each block, but it pays for itself many times: the
// micro-kernel then reads A and B strictly sequentially (no TLB misses, no cache-set
// conflicts from large leading dimensions, no transposes in the hot loop), and the zero
// padding lets every tile, even at the edges, run the same full-size kernel.
//
// A packed sliver is W values per k step (W = MR for A, NR for B). Depending on the storage
// order, one k step of the sliver is either a contiguous run in memory (copy_steps) or one
// element from each of W rows (interleave_rows, a transpose). pack_a and pack_b only decide
// which of the two applies. W is a template parameter so that the inner loops have a fixed
// length; each kernel file instantiates them with its own tile size.
#pragma once

#include <algorithm>
#include <cstdint>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace kite::cpu {

// out[p * W + r] = src[p * ld + r] for r < valid, zero for valid <= r < W, p < kc.
template <class T, int W>
void copy_steps(const T* src, int64_t ld, int64_t kc, int valid, T* out) {
  if (valid == W) {
    for (int64_t p = 0; p < kc; ++p, src += ld, out += W)
      for (int r = 0; r < W; ++r) out[r] = src[r];
  } else {
    for (int64_t p = 0; p < kc; ++p, src += ld, out += W)
      for (int r = 0; r < W; ++r) out[r] = r < valid ? src[r] : T(0);
  }
}

#if defined(__SSE2__)
// Transposes 4 x 4 floats (or 2 x 2 doubles) from rows of `src` (stride ld) into rows of
// `out` (stride W): the building block of interleave_rows below.
template <int W>
inline void transpose_block(const float* src, int64_t ld, float* out) {
  __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + ld);
  __m128 r2 = _mm_loadu_ps(src + 2 * ld), r3 = _mm_loadu_ps(src + 3 * ld);
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  _mm_storeu_ps(out, r0);
  _mm_storeu_ps(out + W, r1);
  _mm_storeu_ps(out + 2 * W, r2);
  _mm_storeu_ps(out + 3 * W, r3);
}
template <int W>
inline void transpose_block(const double* src, int64_t ld, double* out) {
  const __m128d r0 = _mm_loadu_pd(src), r1 = _mm_loadu_pd(src + ld);
  _mm_storeu_pd(out, _mm_unpacklo_pd(r0, r1));
  _mm_storeu_pd(out + W, _mm_unpackhi_pd(r0, r1));
}
#endif

// out[p * W + r] = src[r * ld + p] for r < valid, zero for valid <= r < W, p < kc: W rows
// read side by side, each sequentially, and interleaved.
template <class T, int W>
void interleave_rows(const T* src, int64_t ld, int64_t kc, int valid, T* out) {
  int64_t p = 0;
#if defined(__SSE2__)
  // Full slivers go through SIMD transposes (4 x 4 float, 2 x 2 double blocks), several times
  // faster than moving one element at a time. The depth advances one cache line (64 bytes)
  // at a time, and within it all W rows are finished before moving on: with a leading
  // dimension that is a multiple of 4 KiB, the W rows compete for the same few L1 sets,
  // so a line must be used up while it is still there.
  constexpr int block = 16 / sizeof(T);
  constexpr int line = 64 / sizeof(T);
  if (valid == W && W % block == 0) {
    for (; p + line <= kc; p += line)
      for (int r = 0; r < W; r += block)
        for (int q = 0; q < line; q += block)
          transpose_block<W>(src + r * ld + p + q, ld, out + (p + q) * W + r);
    for (; p + block <= kc; p += block)
      for (int r = 0; r < W; r += block) transpose_block<W>(src + r * ld + p, ld, out + p * W + r);
  }
#endif
  for (; p < kc; ++p)
    for (int r = 0; r < W; ++r) out[p * W + r] = r < valid ? src[r * ld + p] : T(0);
}

// Packs rows [row0, row0 + rows) and depth [p0, p0 + kc) of op(A) into slivers of MR rows:
// dst[s * MR * kc + p * MR + r] = op(A)(row0 + s * MR + r, p0 + p), zero past the last row.
// Only the slivers [first_sliver, end_sliver) are written, so threads can share the work.
template <class T, int MR>
void pack_a(bool trans_a, const T* a, int64_t lda, int64_t row0, int64_t rows, int64_t p0,
            int64_t kc, int64_t first_sliver, int64_t end_sliver, T* dst) {
  const int64_t sliver_size = MR * kc;
  int64_t s = first_sliver;
  if (trans_a) {
    // op(A)(i, p) = a[p * lda + i]: one k step of a sliver is MR contiguous elements of a row
    // of a, and the neighbouring slivers continue that row in the same cache lines. Full
    // slivers are therefore packed four at a time, so that each line is read once, whole.
    constexpr int64_t kGroup = 4;
    const int64_t full_end = std::min(end_sliver, rows / MR);
    while (s < full_end) {
      const int64_t count = std::min(kGroup, full_end - s);
      const T* src = a + p0 * lda + row0 + s * MR;
      T* out = dst + s * sliver_size;
      for (int64_t p = 0; p < kc; ++p, src += lda)
        for (int64_t g = 0; g < count; ++g)
          for (int r = 0; r < MR; ++r) out[g * sliver_size + p * MR + r] = src[g * MR + r];
      s += count;
    }
  }
  for (; s < end_sliver; ++s) {
    const int64_t r0 = row0 + s * MR;
    const int valid = static_cast<int>(std::min<int64_t>(MR, rows - s * MR));
    T* out = dst + s * sliver_size;
    if (trans_a) {
      copy_steps<T, MR>(a + p0 * lda + r0, lda, kc, valid, out);
    } else {
      interleave_rows<T, MR>(a + r0 * lda + p0, lda, kc, valid, out);  // a[i * lda + p]
    }
  }
}

// Packs depth [p0, p0 + kc) and columns [col0, col0 + cols) of op(B) into slivers of NR
// columns: dst[s * NR * kc + p * NR + j] = op(B)(p0 + p, col0 + s * NR + j), zero past the
// last column.
template <class T, int NR>
void pack_b(bool trans_b, const T* b, int64_t ldb, int64_t p0, int64_t kc, int64_t col0,
            int64_t cols, T* dst) {
  const int64_t slivers = (cols + NR - 1) / NR;
  for (int64_t s = 0; s < slivers; ++s) {
    const int64_t c0 = col0 + s * NR;
    const int valid = static_cast<int>(std::min<int64_t>(NR, col0 + cols - c0));
    T* out = dst + s * NR * kc;
    if (trans_b) {
      interleave_rows<T, NR>(b + c0 * ldb + p0, ldb, kc, valid, out);  // op(B)(p, j) = b[j*ldb+p]
    } else {
      copy_steps<T, NR>(b + p0 * ldb + c0, ldb, kc, valid, out);  // op(B)(p, j) = b[p * ldb + j]
    }
  }
}

}  // namespace kite::cpu
