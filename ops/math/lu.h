// LU factorisation with partial pivoting of one n x n row-major matrix in place, and the
// solves built on it. Plain loops with no allocation, shared by the CPU kernel and (per
// matrix, one thread) by CUDA code.
#pragma once

#include <cstdint>

#include "engine/hd.h"
#include "ops/math/scalar.h"

namespace kite::math {

// Factorises a = P L U in place (unit L below the diagonal, U on and above). pivots[k] is the
// row swapped with row k. Returns log |det a|, or -infinity when a pivot is exactly zero.
template <class T>
KITE_HD T lu_factor(T* a, int64_t n, int64_t* pivots) {
  T log_abs_det = 0;
  for (int64_t k = 0; k < n; ++k) {
    int64_t p = k;
    T best = k_abs(a[k * n + k]);
    for (int64_t i = k + 1; i < n; ++i) {
      T v = k_abs(a[i * n + k]);
      if (v > best) {
        best = v;
        p = i;
      }
    }
    pivots[k] = p;
    if (p != k)
      for (int64_t j = 0; j < n; ++j) {
        T t = a[k * n + j];
        a[k * n + j] = a[p * n + j];
        a[p * n + j] = t;
      }
    T pivot = a[k * n + k];
    if (pivot == T(0)) return -T(1) / T(0);
    log_abs_det += k_log(k_abs(pivot));
    for (int64_t i = k + 1; i < n; ++i) {
      T factor = a[i * n + k] / pivot;
      a[i * n + k] = factor;
      for (int64_t j = k + 1; j < n; ++j) a[i * n + j] -= factor * a[k * n + j];
    }
  }
  return log_abs_det;
}

// Solves (P L U) x = b for one right-hand side b (length n), in place.
template <class T>
KITE_HD void lu_solve(const T* lu, int64_t n, const int64_t* pivots, T* b) {
  for (int64_t k = 0; k < n; ++k)
    if (pivots[k] != k) {
      T t = b[k];
      b[k] = b[pivots[k]];
      b[pivots[k]] = t;
    }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j) b[i] -= lu[i * n + j] * b[j];
  for (int64_t i = n - 1; i >= 0; --i) {
    for (int64_t j = i + 1; j < n; ++j) b[i] -= lu[i * n + j] * b[j];
    b[i] /= lu[i * n + i];
  }
}

}  // namespace kite::math
