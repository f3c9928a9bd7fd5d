// The arithmetic of the activation functions, shared by CPU loops and CUDA kernels.
//
// Each functor holds its parameters in the element type, so a float kernel computes in
// float throughout. The numerically delicate ones say how they stay stable.
#pragma once

#include "engine/hd.h"
#include "ops/math/scalar.h"

namespace kite {

template <class T>
struct ReluF {
  // `x < 0 ? 0 : x` rather than `x > 0 ? x : 0` so that NaN passes through.
  KITE_HD T operator()(T x) const { return x < T(0) ? T(0) : x; }
};

template <class T>
struct LeakyReluF {
  T slope;
  KITE_HD T operator()(T x) const { return x < T(0) ? slope * x : x; }
};

template <class T>
struct LeakyReluSlopeF {
  T slope;
  KITE_HD T operator()(T x) const { return x > T(0) ? T(1) : slope; }
};

template <class T>
struct EluF {
  T alpha;
  // expm1 keeps the small negative values accurate: exp(x) - 1 cancels for x near 0.
  KITE_HD T operator()(T x) const { return x > T(0) ? x : alpha * k_expm1(x); }
};

// log(1 + e^x). For x > 0 it is rewritten as x + log(1 + e^-x): e^x never overflows, and
// for large x the correction underflows to 0 so the result is exactly x (the usual
// "x > 20 -> x" cut-off, but without the ~2e-9 relative error such a cut-off leaves in
// double). For x <= 0, log1p(e^x) is accurate down to very negative x, where it equals e^x.
template <class T>
KITE_HD T softplus_value(T x) {
  return x > T(0) ? x + k_log1p(k_exp(-x)) : k_log1p(k_exp(x));
}

// 1 / (1 + e^-x), branching on the sign so that the exponential never overflows: for
// negative x, e^x / (1 + e^x) only takes e^x of a negative number.
template <class T>
KITE_HD T sigmoid_value(T x) {
  if (x >= T(0)) return T(1) / (T(1) + k_exp(-x));
  const T e = k_exp(x);
  return e / (T(1) + e);
}

template <class T>
struct SoftplusF {
  KITE_HD T operator()(T x) const { return softplus_value(x); }
};

template <class T>
struct SigmoidF {
  KITE_HD T operator()(T x) const { return sigmoid_value(x); }
};

template <class T>
struct TanhF {
  KITE_HD T operator()(T x) const { return k_tanh(x); }
};

}  // namespace kite
