// Activation functions. Those with a closed-form derivative have their own backward; the
// rest (silu, lipswish) are compositions of other ops and differentiate through them.
#pragma once

#include "engine/tensor.h"

namespace kite {

Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor elu(const Tensor& x, double alpha = 1.0);
Tensor softplus(const Tensor& x);  // log(1 + e^x), computed stably
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor silu(const Tensor& x);  // x * sigmoid(x)
// LipSwish (Residual Flows): x * sigmoid(beta * x) / 1.1, 1-Lipschitz for beta >= 0.
// beta is a tensor (usually a learnable scalar, kept positive by the caller, e.g. softplus).
Tensor lipswish(const Tensor& x, const Tensor& beta);

}  // namespace kite
