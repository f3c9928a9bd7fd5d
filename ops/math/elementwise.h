// The arithmetic of the elementwise ops, shared by CPU loops and CUDA kernels: the op
// enums the kernels are called with, one functor per op, and the visitors that turn a
// runtime op into its functor.
//
// A kernel switches on the op once, outside its loop (visit_unary_op / visit_binary_op), and
// then runs a loop specialised for that functor, so the inner loop has no branch on the op
// and the simple ones (add, mul, compare) vectorise.
#pragma once

#include <stdint.h>

#include "engine/hd.h"
#include "ops/math/activations.h"
#include "ops/math/scalar.h"

namespace kite {

// One-input ops. Ops with a scalar take it from UnaryParams::a (and b for clamp's upper
// bound); the comment gives the formula in terms of x, a and b.
enum class UnaryOp : uint8_t {
  Neg,             // -x
  Exp,             // e^x
  Log,             // ln x
  Log1p,           // ln(1 + x)
  Sqrt,            // sqrt(x)
  Rsqrt,           // 1 / sqrt(x)
  Abs,             // |x|
  Square,          // x * x
  Sign,            // -1, 0 or 1 (NaN and signed zeros pass through)
  Relu,            // max(x, 0)
  LeakyRelu,       // x < 0 ? a * x : x
  LeakyReluSlope,  // x > 0 ? 1 : a (leaky_relu's derivative, one pass in its backward)
  Elu,             // x > 0 ? x : a * (e^x - 1)
  Softplus,        // ln(1 + e^x)
  Sigmoid,         // 1 / (1 + e^-x)
  Tanh,            // tanh(x)
  Clamp,           // x clamped to [a, b] (NaN passes through)
  PowScalar,       // x^a
  AddScalar,       // x + a
  MulScalar,       // x * a
  DivScalar,       // x / a
  RsubScalar,      // a - x
  RdivScalar,      // a / x
  LtScalar,        // x < a  (0 or 1)
  LeScalar,        // x <= a
  GtScalar,        // x > a
  GeScalar,        // x >= a
};

struct UnaryParams {
  double a = 0.0;
  double b = 0.0;
};

// Two-input ops. Comparisons give 0 or 1 in the inputs' dtype.
enum class BinaryOp : uint8_t { Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge };

inline bool is_comparison(BinaryOp op) {
  return op == BinaryOp::Eq || op == BinaryOp::Ne || op == BinaryOp::Lt || op == BinaryOp::Le ||
         op == BinaryOp::Gt || op == BinaryOp::Ge;
}

// ---- Unary functors ----

template <class T>
struct NegF {
  KITE_HD T operator()(T x) const { return -x; }
};
template <class T>
struct ExpF {
  KITE_HD T operator()(T x) const { return k_exp(x); }
};
template <class T>
struct LogF {
  KITE_HD T operator()(T x) const { return k_log(x); }
};
template <class T>
struct Log1pF {
  KITE_HD T operator()(T x) const { return k_log1p(x); }
};
template <class T>
struct SqrtF {
  KITE_HD T operator()(T x) const { return k_sqrt(x); }
};
template <class T>
struct RsqrtF {
  KITE_HD T operator()(T x) const { return T(1) / k_sqrt(x); }
};
template <class T>
struct AbsF {
  KITE_HD T operator()(T x) const { return k_abs(x); }
};
template <class T>
struct SquareF {
  KITE_HD T operator()(T x) const { return x * x; }
};
template <class T>
struct SignF {
  KITE_HD T operator()(T x) const { return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x); }
};
template <class T>
struct ClampF {
  T lo, hi;
  KITE_HD T operator()(T x) const { return x < lo ? lo : (x > hi ? hi : x); }
};
template <class T>
struct PowScalarF {
  T exponent;
  KITE_HD T operator()(T x) const { return k_pow(x, exponent); }
};
template <class T>
struct AddScalarF {
  T a;
  KITE_HD T operator()(T x) const { return x + a; }
};
template <class T>
struct MulScalarF {
  T a;
  KITE_HD T operator()(T x) const { return x * a; }
};
template <class T>
struct DivScalarF {
  T a;
  KITE_HD T operator()(T x) const { return x / a; }
};
template <class T>
struct RsubScalarF {
  T a;
  KITE_HD T operator()(T x) const { return a - x; }
};
template <class T>
struct RdivScalarF {
  T a;
  KITE_HD T operator()(T x) const { return a / x; }
};
template <class T>
struct LtScalarF {
  T a;
  KITE_HD T operator()(T x) const { return x < a ? T(1) : T(0); }
};
template <class T>
struct LeScalarF {
  T a;
  KITE_HD T operator()(T x) const { return x <= a ? T(1) : T(0); }
};
template <class T>
struct GtScalarF {
  T a;
  KITE_HD T operator()(T x) const { return x > a ? T(1) : T(0); }
};
template <class T>
struct GeScalarF {
  T a;
  KITE_HD T operator()(T x) const { return x >= a ? T(1) : T(0); }
};

// Calls f(functor) with the functor of `op` for element type T (float or double).
template <class T, class F>
void visit_unary_op(UnaryOp op, const UnaryParams& p, F&& f) {
  const T a = static_cast<T>(p.a), b = static_cast<T>(p.b);
  switch (op) {
    case UnaryOp::Neg:
      return f(NegF<T>{});
    case UnaryOp::Exp:
      return f(ExpF<T>{});
    case UnaryOp::Log:
      return f(LogF<T>{});
    case UnaryOp::Log1p:
      return f(Log1pF<T>{});
    case UnaryOp::Sqrt:
      return f(SqrtF<T>{});
    case UnaryOp::Rsqrt:
      return f(RsqrtF<T>{});
    case UnaryOp::Abs:
      return f(AbsF<T>{});
    case UnaryOp::Square:
      return f(SquareF<T>{});
    case UnaryOp::Sign:
      return f(SignF<T>{});
    case UnaryOp::Relu:
      return f(ReluF<T>{});
    case UnaryOp::LeakyRelu:
      return f(LeakyReluF<T>{a});
    case UnaryOp::LeakyReluSlope:
      return f(LeakyReluSlopeF<T>{a});
    case UnaryOp::Elu:
      return f(EluF<T>{a});
    case UnaryOp::Softplus:
      return f(SoftplusF<T>{});
    case UnaryOp::Sigmoid:
      return f(SigmoidF<T>{});
    case UnaryOp::Tanh:
      return f(TanhF<T>{});
    case UnaryOp::Clamp:
      return f(ClampF<T>{a, b});
    case UnaryOp::PowScalar:
      return f(PowScalarF<T>{a});
    case UnaryOp::AddScalar:
      return f(AddScalarF<T>{a});
    case UnaryOp::MulScalar:
      return f(MulScalarF<T>{a});
    case UnaryOp::DivScalar:
      return f(DivScalarF<T>{a});
    case UnaryOp::RsubScalar:
      return f(RsubScalarF<T>{a});
    case UnaryOp::RdivScalar:
      return f(RdivScalarF<T>{a});
    case UnaryOp::LtScalar:
      return f(LtScalarF<T>{a});
    case UnaryOp::LeScalar:
      return f(LeScalarF<T>{a});
    case UnaryOp::GtScalar:
      return f(GtScalarF<T>{a});
    case UnaryOp::GeScalar:
      return f(GeScalarF<T>{a});
  }
}

// ---- Binary functors ----

template <class T>
struct AddF {
  KITE_HD T operator()(T a, T b) const { return a + b; }
};
template <class T>
struct SubF {
  KITE_HD T operator()(T a, T b) const { return a - b; }
};
template <class T>
struct MulF {
  KITE_HD T operator()(T a, T b) const { return a * b; }
};
template <class T>
struct DivF {
  KITE_HD T operator()(T a, T b) const { return a / b; }
};
template <class T>
struct PowF {
  KITE_HD T operator()(T a, T b) const { return k_pow(a, b); }
};
// maximum/minimum propagate NaN from either side (like torch.maximum, unlike fmax).
template <class T>
struct MaximumF {
  KITE_HD T operator()(T a, T b) const { return (a > b || a != a) ? a : b; }
};
template <class T>
struct MinimumF {
  KITE_HD T operator()(T a, T b) const { return (a < b || a != a) ? a : b; }
};
template <class T>
struct EqF {
  KITE_HD T operator()(T a, T b) const { return a == b ? T(1) : T(0); }
};
template <class T>
struct NeF {
  KITE_HD T operator()(T a, T b) const { return a != b ? T(1) : T(0); }
};
template <class T>
struct LtF {
  KITE_HD T operator()(T a, T b) const { return a < b ? T(1) : T(0); }
};
template <class T>
struct LeF {
  KITE_HD T operator()(T a, T b) const { return a <= b ? T(1) : T(0); }
};
template <class T>
struct GtF {
  KITE_HD T operator()(T a, T b) const { return a > b ? T(1) : T(0); }
};
template <class T>
struct GeF {
  KITE_HD T operator()(T a, T b) const { return a >= b ? T(1) : T(0); }
};

// Calls f(functor) with the functor of a comparison op, for any element type (integer
// tensors can be compared, e.g. predicted and true labels).
template <class T, class F>
void visit_comparison_op(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::Eq:
      return f(EqF<T>{});
    case BinaryOp::Ne:
      return f(NeF<T>{});
    case BinaryOp::Lt:
      return f(LtF<T>{});
    case BinaryOp::Le:
      return f(LeF<T>{});
    case BinaryOp::Gt:
      return f(GtF<T>{});
    case BinaryOp::Ge:
      return f(GeF<T>{});
    default:
      return;
  }
}

// Calls f(functor) with the functor of any binary op, for a floating element type.
template <class T, class F>
void visit_binary_op(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::Add:
      return f(AddF<T>{});
    case BinaryOp::Sub:
      return f(SubF<T>{});
    case BinaryOp::Mul:
      return f(MulF<T>{});
    case BinaryOp::Div:
      return f(DivF<T>{});
    case BinaryOp::Pow:
      return f(PowF<T>{});
    case BinaryOp::Maximum:
      return f(MaximumF<T>{});
    case BinaryOp::Minimum:
      return f(MinimumF<T>{});
    default:
      return visit_comparison_op<T>(op, f);
  }
}

// where(cond, a, b): any non-zero condition picks a.
template <class T, class C>
KITE_HD T where_value(C cond, T a, T b) {
  return cond != C(0) ? a : b;
}

}  // namespace kite
