// LU factorisation with partial pivoting of one n x n row-major matrix in place, and the
// solves built on it. Plain loops with no allocation, shared by the CPU kernel and the CUDA
// kernels. The factorisation is written as its steps (choose the pivot row, swap, eliminate
// one row below the pivot) so that a GPU block can run the steps of one column in parallel,
// a row per thread, with each element updated by exactly the arithmetic of the serial loop.
#pragma once

#include <cstdint>

#include "engine/hd.h"
#include "ops/math/scalar.h"

namespace kite::math {

// Step k, 1: the row at or below k with the largest |a[., k]| (the first one on ties).
template <class T>
KITE_HD int64_t lu_pivot_row(const T* a, int64_t n, int64_t k) {
  int64_t p = k;
  T best = k_abs(a[k * n + k]);
  for (int64_t i = k + 1; i < n; ++i) {
    T v = k_abs(a[i * n + k]);
    if (v > best) {
      best = v;
      p = i;
    }
  }
  return p;
}

// Step k, 2: swaps element j of rows k and p.
template <class T>
KITE_HD void lu_swap(T* a, int64_t n, int64_t k, int64_t p, int64_t j) {
  T t = a[k * n + j];
  a[k * n + j] = a[p * n + j];
  a[p * n + j] = t;
}

// Step k, 3: eliminates column k from row i > k with the pivot a[k, k]: stores the factor
// (L's entry) in a[i, k] and updates the rest of the row.
template <class T>
KITE_HD void lu_eliminate_row(T* a, int64_t n, int64_t k, int64_t i, T pivot) {
  T factor = a[i * n + k] / pivot;
  a[i * n + k] = factor;
  for (int64_t j = k + 1; j < n; ++j) a[i * n + j] -= factor * a[k * n + j];
}

// Factorises a = P L U in place (unit L below the diagonal, U on and above). pivots[k] is the
// row swapped with row k. Returns log |det a|, or -infinity when a pivot is exactly zero.
template <class T>
KITE_HD T lu_factor(T* a, int64_t n, int64_t* pivots) {
  T log_abs_det = 0;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t p = lu_pivot_row(a, n, k);
    pivots[k] = p;
    if (p != k)
      for (int64_t j = 0; j < n; ++j) lu_swap(a, n, k, p, j);
    T pivot = a[k * n + k];
    if (pivot == T(0)) return -T(1) / T(0);
    log_abs_det += k_log(k_abs(pivot));
    for (int64_t i = k + 1; i < n; ++i) lu_eliminate_row(a, n, k, i, pivot);
  }
  return log_abs_det;
}

// Solves (P L U) x = b for one right-hand side b (n values, b[i * stride]), in place.
template <class T>
KITE_HD void lu_solve(const T* lu, int64_t n, const int64_t* pivots, T* b, int64_t stride = 1) {
  for (int64_t k = 0; k < n; ++k)
    if (pivots[k] != k) {
      T t = b[k * stride];
      b[k * stride] = b[pivots[k] * stride];
      b[pivots[k] * stride] = t;
    }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) b[i * stride] -= lu[i * n + j] * b[j * stride];
  for (int64_t i = n - 1; i >= 0; --i) {
    for (int64_t j = i + 1; j < n; ++j) b[i * stride] -= lu[i * n + j] * b[j * stride];
    b[i * stride] /= lu[i * n + i];
  }
}

}  // namespace kite::math
