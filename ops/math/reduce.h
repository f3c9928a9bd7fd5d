// The arithmetic of reductions, shared by the CPU kernels and (later) the CUDA kernels:
// which type accumulates, how two partial results combine, and which of two candidates wins
// an argmax / argmin.
//
// Accuracy: float32 sums accumulate in double (one rounding at the end), float64 sums use
// several interleaved accumulators combined pairwise (see ops/cpu/reduce.cpp).
// NaN: max and min propagate NaN (a NaN anywhere makes the result NaN), and argmax / argmin
// point at the first NaN, like NumPy.
#pragma once

#include <cstdint>

#include "engine/hd.h"

namespace kite::math {

// The type partial sums live in: double for float32, the element type otherwise.
template <class T>
struct Accumulator {
  using type = T;
};
template <>
struct Accumulator<float> {
  using type = double;
};
template <class T>
using accumulator_t = typename Accumulator<T>::type;

template <class A>
KITE_HD bool is_nan(A v) {
  return v != v;  // false for integers
}

struct SumCombine {
  template <class A>
  KITE_HD A operator()(A a, A b) const {
    return a + b;
  }
};

// max(a, b), except that a NaN on either side wins.
struct MaxCombine {
  template <class A>
  KITE_HD A operator()(A a, A b) const {
    return (b > a || is_nan(b)) ? b : a;
  }
};

struct MinCombine {
  template <class A>
  KITE_HD A operator()(A a, A b) const {
    return (b < a || is_nan(b)) ? b : a;
  }
};

// Whether a later candidate replaces the best so far. Strict comparison keeps the first of
// equal values; the first NaN beats everything and is never replaced.
struct ArgMaxBetter {
  template <class T>
  KITE_HD bool operator()(T candidate, T best) const {
    return !is_nan(best) && (candidate > best || is_nan(candidate));
  }
};

struct ArgMinBetter {
  template <class T>
  KITE_HD bool operator()(T candidate, T best) const {
    return !is_nan(best) && (candidate < best || is_nan(candidate));
  }
};

}  // namespace kite::math
