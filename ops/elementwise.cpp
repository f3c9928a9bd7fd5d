// Elementwise arithmetic: forwards (validate, allocate, dispatch) and backward formulas.
//
// Every backward is written with the public ops, so that differentiating a backward pass
// (create_graph = true) works. Gradients of broadcast inputs are summed back to the input's
// shape with sum_to (ops/reduce.h).
#include "ops/elementwise.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/cpu/elementwise.h"
#include "ops/elementwise_kernels.h"
#include "ops/factory.h"
#include "ops/reduce.h"

namespace kite {

DispatchStub<UnaryKernel> unary_stub{"unary", cpu::unary_kernel};
DispatchStub<BinaryKernel> binary_stub{"binary", cpu::binary_kernel};
DispatchStub<WhereKernel> where_stub{"where", cpu::where_kernel};

namespace {

// The engine's backward needs add (to sum gradients meeting at a node), ones_like (to seed
// a scalar output) and clone (to give each leaf a .grad of its own), but the engine sits
// below the ops library and cannot call it. So the ops library hands these three to the
// engine at static initialisation. It lives here because this file defines add, and every
// program that builds a graph links this object file out of the static library: the ops
// that record nodes use the arithmetic below, or reach it through factory.cpp (copies and
// fills use broadcast_view, defined here). The wrappers exist because a pointer to an
// overloaded function is ambiguous.
Tensor add_for_autograd(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor ones_like_for_autograd(const Tensor& x) { return ones_like(x); }
Tensor clone_for_autograd(const Tensor& x) { return clone(x); }

[[maybe_unused]] const bool gradient_ops_registered = [] {
  autograd::set_gradient_ops({&add_for_autograd, &ones_like_for_autograd, &clone_for_autograd});
  return true;
}();

void check_defined(const Tensor& t, const char* op) {
  KITE_CHECK(t.defined(), op << ": input is an undefined tensor");
}

// Gradient for an input that may have been broadcast; undefined when it needs none.
Tensor reduce_grad(const BackwardContext& ctx, size_t i, const Tensor& grad, const Shape& shape) {
  return ctx.needs_grad(i) ? sum_to(grad, shape) : Tensor();
}

// t itself when it already has `shape` (the usual case: not even a Tensor copy, which is an
// atomic reference-count update each way), else its broadcast view, kept in `holder`.
const Tensor& broadcast_operand(const Tensor& t, const Shape& shape, const char* op,
                                Tensor& holder) {
  if (t.shape() == shape) return t;
  holder = broadcast_view(t, shape, op);
  return holder;
}

}  // namespace

Tensor broadcast_view(const Tensor& t, const Shape& shape, const char* op) {
  // Already that shape (the usual case): the view would be t itself, and a view costs heap
  // allocations that a small op's kernel cannot hide.
  if (t.shape() == shape) return t;
  const int64_t dim = static_cast<int64_t>(shape.size());
  KITE_CHECK(t.dim() <= dim,
             op << ": cannot broadcast " << describe(t) << " to shape " << shape_str(shape));
  Shape strides(dim, 0);
  const int64_t lead = dim - t.dim();
  for (int64_t i = 0; i < t.dim(); ++i) {
    const int64_t size = t.shape()[i];
    KITE_CHECK(size == shape[lead + i] || size == 1,
               op << ": cannot broadcast " << describe(t) << " to shape " << shape_str(shape));
    strides[lead + i] = size == shape[lead + i] ? t.strides()[i] : 0;
  }
  return t.as_strided(shape, strides, t.offset());
}

Tensor unary_forward(const char* name, UnaryOp op, const UnaryParams& params, const Tensor& x) {
  check_defined(x, name);
  KITE_CHECK(is_floating(x.dtype()),
             name << ": expected a floating tensor (float32 or float64), got " << describe(x));
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (out.numel() > 0) unary_stub.get(x.device())(op, params, x, out);
  return out;
}

Tensor binary_forward(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  check_defined(a, name);
  check_defined(b, name);
  KITE_CHECK(a.device() == b.device(), name << ": inputs are on different devices: " << describe(a)
                                            << " and " << describe(b));
  KITE_CHECK(a.dtype() == b.dtype(), name << ": dtype mismatch: " << describe(a) << " and "
                                          << describe(b) << " (convert one with to_dtype)");
  KITE_CHECK(is_comparison(op) || is_floating(a.dtype()),
             name << ": expected floating tensors (float32 or float64), got " << describe(a)
                  << " and " << describe(b));
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  if (out.numel() > 0) {
    Tensor a_view, b_view;
    binary_stub.get(a.device())(op, broadcast_operand(a, shape, name, a_view),
                                broadcast_operand(b, shape, name, b_view), out);
  }
  return out;
}

// ---- Binary arithmetic ----

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("add", BinaryOp::Add, a, b);
  autograd::record("add", {a, b}, out,
                   [sa = a.shape(), sb = b.shape()](
                       const Tensor& g, const BackwardContext& ctx) -> std::vector<Tensor> {
                     return {reduce_grad(ctx, 0, g, sa), reduce_grad(ctx, 1, g, sb)};
                   });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("sub", BinaryOp::Sub, a, b);
  autograd::record(
      "sub", {a, b}, out,
      [sa = a.shape(), sb = b.shape()](const Tensor& g,
                                       const BackwardContext& ctx) -> std::vector<Tensor> {
        return {reduce_grad(ctx, 0, g, sa), ctx.needs_grad(1) ? neg(sum_to(g, sb)) : Tensor()};
      });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("mul", BinaryOp::Mul, a, b);
  autograd::record("mul", {a, b}, out,
                   [a, b](const Tensor& g, const BackwardContext& ctx) -> std::vector<Tensor> {
                     return {ctx.needs_grad(0) ? sum_to(mul(g, b), a.shape()) : Tensor(),
                             ctx.needs_grad(1) ? sum_to(mul(g, a), b.shape()) : Tensor()};
                   });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("div", BinaryOp::Div, a, b);
  // d(a/b)/db = -a / b^2.
  autograd::record(
      "div", {a, b}, out,
      [a, b](const Tensor& g, const BackwardContext& ctx) -> std::vector<Tensor> {
        return {ctx.needs_grad(0) ? sum_to(div(g, b), a.shape()) : Tensor(),
                ctx.needs_grad(1) ? sum_to(neg(div(mul(g, a), square(b))), b.shape()) : Tensor()};
      });
  return out;
}

Tensor pow(const Tensor& base, const Tensor& exponent) {
  Tensor out = binary_forward("pow", BinaryOp::Pow, base, exponent);
  // d(a^b)/da = b a^(b-1); d(a^b)/db = a^b ln a, taken as 0 where a = 0 (there a^b is 0 for
  // b > 0 and the product 0 * -inf would be NaN).
  autograd::record(
      "pow", {base, exponent}, out,
      [base, exponent](const Tensor& g, const BackwardContext& ctx) -> std::vector<Tensor> {
        Tensor grad_base, grad_exponent;
        if (ctx.needs_grad(0))
          grad_base = sum_to(mul(g, mul(exponent, pow(base, sub(exponent, 1.0)))), base.shape());
        if (ctx.needs_grad(1)) {
          Tensor zero = scalar_tensor(0.0, g.dtype(), g.device());
          Tensor d = where(eq(base, zero), zero, mul(ctx.output(), log(base)));
          grad_exponent = sum_to(mul(g, d), exponent.shape());
        }
        return {grad_base, grad_exponent};
      },
      autograd::SaveOutput::Yes);
  return out;
}

// maximum/minimum send the gradient to the input that won; on ties each input gets half
// (the subgradient PyTorch uses), so maximum(x, x) has gradient 1 like x itself.
Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("maximum", BinaryOp::Maximum, a, b);
  autograd::record("maximum", {a, b}, out,
                   [a, b](const Tensor& g, const BackwardContext& ctx) -> std::vector<Tensor> {
                     Tensor half_ties = mul(eq(a, b), 0.5);
                     return {reduce_grad(ctx, 0, mul(g, add(gt(a, b), half_ties)), a.shape()),
                             reduce_grad(ctx, 1, mul(g, add(lt(a, b), half_ties)), b.shape())};
                   });
  return out;
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("minimum", BinaryOp::Minimum, a, b);
  autograd::record("minimum", {a, b}, out,
                   [a, b](const Tensor& g, const BackwardContext& ctx) -> std::vector<Tensor> {
                     Tensor half_ties = mul(eq(a, b), 0.5);
                     return {reduce_grad(ctx, 0, mul(g, add(lt(a, b), half_ties)), a.shape()),
                             reduce_grad(ctx, 1, mul(g, add(gt(a, b), half_ties)), b.shape())};
                   });
  return out;
}

// ---- With a scalar ----

Tensor add(const Tensor& a, double b) {
  Tensor out = unary_forward("add", UnaryOp::AddScalar, {b, 0.0}, a);
  autograd::record("add", {a}, out,
                   [](const Tensor& g, const BackwardContext&) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor sub(const Tensor& a, double b) {
  // x + (-b) rounds exactly like x - b.
  Tensor out = unary_forward("sub", UnaryOp::AddScalar, {-b, 0.0}, a);
  autograd::record("sub", {a}, out,
                   [](const Tensor& g, const BackwardContext&) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor rsub(double a, const Tensor& b) {
  Tensor out = unary_forward("rsub", UnaryOp::RsubScalar, {a, 0.0}, b);
  autograd::record("rsub", {b}, out, [](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{neg(g)};
  });
  return out;
}

Tensor mul(const Tensor& a, double b) {
  Tensor out = unary_forward("mul", UnaryOp::MulScalar, {b, 0.0}, a);
  autograd::record("mul", {a}, out, [b](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{mul(g, b)};
  });
  return out;
}

Tensor div(const Tensor& a, double b) {
  Tensor out = unary_forward("div", UnaryOp::DivScalar, {b, 0.0}, a);
  autograd::record("div", {a}, out, [b](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{div(g, b)};
  });
  return out;
}

Tensor rdiv(double a, const Tensor& b) {
  Tensor out = unary_forward("rdiv", UnaryOp::RdivScalar, {a, 0.0}, b);
  // d(a/x)/dx = -a / x^2.
  autograd::record("rdiv", {b}, out, [a, b](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{neg(div(mul(g, a), square(b)))};
  });
  return out;
}

Tensor pow(const Tensor& base, double exponent) {
  Tensor out = unary_forward("pow", UnaryOp::PowScalar, {exponent, 0.0}, base);
  autograd::record("pow", {base}, out, [base, exponent](const Tensor& g, const BackwardContext&) {
    // A zero exponent has a zero gradient even where x^-1 would be infinite.
    if (exponent == 0.0) return std::vector<Tensor>{mul(g, 0.0)};
    return std::vector<Tensor>{mul(mul(g, pow(base, exponent - 1.0)), exponent)};
  });
  return out;
}

// ---- Unary math ----

Tensor neg(const Tensor& x) {
  Tensor out = unary_forward("neg", UnaryOp::Neg, {}, x);
  autograd::record("neg", {x}, out, [](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{neg(g)};
  });
  return out;
}

Tensor exp(const Tensor& x) {
  Tensor out = unary_forward("exp", UnaryOp::Exp, {}, x);
  autograd::record(
      "exp", {x}, out,
      [](const Tensor& g, const BackwardContext& ctx) {
        return std::vector<Tensor>{mul(g, ctx.output())};
      },
      autograd::SaveOutput::Yes);
  return out;
}

Tensor log(const Tensor& x) {
  Tensor out = unary_forward("log", UnaryOp::Log, {}, x);
  autograd::record("log", {x}, out, [x](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{div(g, x)};
  });
  return out;
}

Tensor log1p(const Tensor& x) {
  Tensor out = unary_forward("log1p", UnaryOp::Log1p, {}, x);
  autograd::record("log1p", {x}, out, [x](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{div(g, add(x, 1.0))};
  });
  return out;
}

Tensor sqrt(const Tensor& x) {
  Tensor out = unary_forward("sqrt", UnaryOp::Sqrt, {}, x);
  // d sqrt(x) = 1 / (2 sqrt(x)), from the saved output.
  autograd::record(
      "sqrt", {x}, out,
      [](const Tensor& g, const BackwardContext& ctx) {
        return std::vector<Tensor>{div(g, mul(ctx.output(), 2.0))};
      },
      autograd::SaveOutput::Yes);
  return out;
}

Tensor rsqrt(const Tensor& x) {
  Tensor out = unary_forward("rsqrt", UnaryOp::Rsqrt, {}, x);
  // d x^(-1/2) = -x^(-3/2) / 2 = -out^3 / 2.
  autograd::record(
      "rsqrt", {x}, out,
      [](const Tensor& g, const BackwardContext& ctx) {
        return std::vector<Tensor>{mul(mul(g, pow(ctx.output(), 3.0)), -0.5)};
      },
      autograd::SaveOutput::Yes);
  return out;
}

Tensor abs(const Tensor& x) {
  Tensor out = unary_forward("abs", UnaryOp::Abs, {}, x);
  // sign(0) = 0: the subgradient 0 at the kink.
  autograd::record("abs", {x}, out, [x](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{mul(g, sign(x))};
  });
  return out;
}

Tensor square(const Tensor& x) {
  Tensor out = unary_forward("square", UnaryOp::Square, {}, x);
  autograd::record("square", {x}, out, [x](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{mul(mul(g, x), 2.0)};
  });
  return out;
}

Tensor sign(const Tensor& x) { return unary_forward("sign", UnaryOp::Sign, {}, x); }

Tensor clamp(const Tensor& x, double lo, double hi) {
  KITE_CHECK(!(lo > hi), "clamp: lower bound " << lo << " is above upper bound " << hi);
  Tensor out = unary_forward("clamp", UnaryOp::Clamp, {lo, hi}, x);
  autograd::record("clamp", {x}, out, [x, lo, hi](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{mul(g, mul(ge(x, lo), le(x, hi)))};
  });
  return out;
}

// ---- where ----

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_defined(cond, "where");
  check_defined(a, "where");
  check_defined(b, "where");
  KITE_CHECK(a.device() == b.device() && cond.device() == a.device(),
             "where: inputs are on different devices: condition "
                 << describe(cond) << ", " << describe(a) << " and " << describe(b));
  KITE_CHECK(a.dtype() == b.dtype(),
             "where: dtype mismatch: " << describe(a) << " and " << describe(b));
  KITE_CHECK(is_floating(a.dtype()),
             "where: expected floating values (float32 or float64), got " << describe(a));
  const Shape shape =
      broadcast_shapes(cond.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  if (out.numel() > 0)
    where_stub.get(a.device())(broadcast_view(cond, shape, "where"),
                               broadcast_view(a, shape, "where"), broadcast_view(b, shape, "where"),
                               out);
  // The condition is a mask: it gets no gradient, so it is not a recorded input.
  autograd::record("where", {a, b}, out,
                   [cond, sa = a.shape(), sb = b.shape()](
                       const Tensor& g, const BackwardContext& ctx) -> std::vector<Tensor> {
                     Tensor zero = scalar_tensor(0.0, g.dtype(), g.device());
                     return {ctx.needs_grad(0) ? sum_to(where(cond, g, zero), sa) : Tensor(),
                             ctx.needs_grad(1) ? sum_to(where(cond, zero, g), sb) : Tensor()};
                   });
  return out;
}

// ---- Comparisons (no gradient) ----

Tensor eq(const Tensor& a, const Tensor& b) { return binary_forward("eq", BinaryOp::Eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_forward("ne", BinaryOp::Ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_forward("lt", BinaryOp::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_forward("le", BinaryOp::Le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_forward("gt", BinaryOp::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_forward("ge", BinaryOp::Ge, a, b); }
Tensor lt(const Tensor& a, double b) { return unary_forward("lt", UnaryOp::LtScalar, {b, 0.0}, a); }
Tensor le(const Tensor& a, double b) { return unary_forward("le", UnaryOp::LeScalar, {b, 0.0}, a); }
Tensor gt(const Tensor& a, double b) { return unary_forward("gt", UnaryOp::GtScalar, {b, 0.0}, a); }
Tensor ge(const Tensor& a, double b) { return unary_forward("ge", UnaryOp::GeScalar, {b, 0.0}, a); }

}  // namespace kite
