// Activation functions: closed-form forwards through the unary kernel (ops/math/activations.h
// holds the arithmetic), with backward formulas written in public ops so that they can be
// differentiated again. silu and lipswish are compositions and need no backward of their own.
#include "ops/activations.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/elementwise.h"
#include "ops/elementwise_kernels.h"
#include "ops/factory.h"

namespace kite {

Tensor relu(const Tensor& x) {
  Tensor out = unary_forward("relu", UnaryOp::Relu, {}, x);
  // Gradient 0 at x = 0 (the subgradient everyone uses).
  autograd::record("relu", {x}, out, [x](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{mul(g, gt(x, 0.0))};
  });
  return out;
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  Tensor out = unary_forward("leaky_relu", UnaryOp::LeakyRelu, {negative_slope, 0.0}, x);
  autograd::record(
      "leaky_relu", {x}, out, [x, negative_slope](const Tensor& g, const BackwardContext&) {
        // The slope tensor is piecewise constant in x (zero gradient), so it
        // is computed without recording; g's gradient still flows through mul.
        Tensor slope =
            unary_forward("leaky_relu_slope", UnaryOp::LeakyReluSlope, {negative_slope, 0.0}, x);
        return std::vector<Tensor>{mul(g, slope)};
      });
  return out;
}

Tensor elu(const Tensor& x, double alpha) {
  Tensor out = unary_forward("elu", UnaryOp::Elu, {alpha, 0.0}, x);
  // For x <= 0, d/dx alpha (e^x - 1) = alpha e^x = elu(x) + alpha. Written with the saved
  // output (itself a node of the graph), the gradient is differentiable again.
  autograd::record(
      "elu", {x}, out,
      [x, alpha](const Tensor& g, const BackwardContext& ctx) {
        return std::vector<Tensor>{where(gt(x, 0.0), g, mul(g, add(ctx.output(), alpha)))};
      },
      autograd::SaveOutput::Yes);
  return out;
}

Tensor softplus(const Tensor& x) {
  Tensor out = unary_forward("softplus", UnaryOp::Softplus, {}, x);
  autograd::record("softplus", {x}, out, [x](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{mul(g, sigmoid(x))};
  });
  return out;
}

Tensor sigmoid(const Tensor& x) {
  Tensor out = unary_forward("sigmoid", UnaryOp::Sigmoid, {}, x);
  // s' = s (1 - s), from the saved output.
  autograd::record(
      "sigmoid", {x}, out,
      [](const Tensor& g, const BackwardContext& ctx) {
        const Tensor& s = ctx.output();
        return std::vector<Tensor>{mul(g, mul(s, rsub(1.0, s)))};
      },
      autograd::SaveOutput::Yes);
  return out;
}

Tensor tanh(const Tensor& x) {
  Tensor out = unary_forward("tanh", UnaryOp::Tanh, {}, x);
  // tanh' = 1 - tanh^2, from the saved output.
  autograd::record(
      "tanh", {x}, out,
      [](const Tensor& g, const BackwardContext& ctx) {
        return std::vector<Tensor>{mul(g, rsub(1.0, square(ctx.output())))};
      },
      autograd::SaveOutput::Yes);
  return out;
}

Tensor silu(const Tensor& x) { return mul(x, sigmoid(x)); }

Tensor lipswish(const Tensor& x, const Tensor& beta) {
  KITE_CHECK(beta.defined(), "lipswish: beta is an undefined tensor");
  // d/dx [x sigmoid(beta x)] = s + u s (1 - s) with u = beta x, s = sigmoid(u): its largest
  // value is about 1.0998 whatever beta >= 0, so dividing by 1.1 makes the function
  // 1-Lipschitz (Chen et al., Residual Flows, 2019).
  return div(mul(x, sigmoid(mul(beta, x))), 1.1);
}

}  // namespace kite
