// The arithmetic of the fused optimizer updates, one parameter element at a time, shared by
// the CPU kernels (ops/cpu/optim.cpp) and later the CUDA kernels.
//
// The update rules follow PyTorch's defaults (torch.optim.SGD, Adam, AdamW with
// amsgrad = false, maximize = false, dampening = 0), so that runs can be compared with
// PyTorch step for step:
//
//   SGD:   d = g + wd * p
//          b = d (first step) or momentum * b + d
//          d = d + momentum * b (nesterov) or b
//          p = p - lr * d
//   Adam:  g = g + wd * p               (L2 weight decay: part of the gradient)
//   AdamW: p = p * (1 - lr * wd)        (decoupled weight decay: outside the moments)
//   both:  m = m + (1 - beta1) * (g - m)
//          v = beta2 * v + (1 - beta2) * g * g
//          p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
//
// Host-side scalars (powers of the betas, bias corrections) are computed once per step in
// double precision by the *_scalars functions below; the per-element functors hold them in
// the parameter's type T and do only multiply-adds, a division and a square root.
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/hd.h"
#include "ops/math/scalar.h"

namespace kite {

// Per-step scalars of SGD, in double precision.
struct SgdScalars {
  double lr = 0.0, momentum = 0.0, weight_decay = 0.0;
  bool nesterov = false;
  bool first_step = false;  // the momentum buffer is set to d instead of being decayed
};

// Per-step scalars of Adam/AdamW, in double precision.
struct AdamScalars {
  double l2_decay = 0.0;     // Adam: weight decay folded into the gradient (0 for AdamW)
  double param_scale = 1.0;  // AdamW: 1 - lr * wd (1 for Adam)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double step_size = 0.0;              // lr / (1 - beta1^t)
  double bias_correction2_sqrt = 1.0;  // sqrt(1 - beta2^t)
};

// Bias corrections exactly as PyTorch computes them: in double, from the step counted from 1.
inline AdamScalars adam_scalars(double lr, double beta1, double beta2, double eps,
                                double weight_decay, bool decoupled, int64_t step) {
  AdamScalars s;
  s.l2_decay = decoupled ? 0.0 : weight_decay;
  s.param_scale = decoupled ? 1.0 - lr * weight_decay : 1.0;
  s.beta1 = beta1;
  s.beta2 = beta2;
  s.eps = eps;
  const double t = static_cast<double>(step);
  s.step_size = lr / (1.0 - std::pow(beta1, t));
  s.bias_correction2_sqrt = std::sqrt(1.0 - std::pow(beta2, t));
  return s;
}

template <class T>
struct SgdUpdate {
  T lr, momentum, weight_decay;
  bool nesterov, first_step;

  explicit SgdUpdate(const SgdScalars& s)
      : lr(static_cast<T>(s.lr)),
        momentum(static_cast<T>(s.momentum)),
        weight_decay(static_cast<T>(s.weight_decay)),
        nesterov(s.nesterov),
        first_step(s.first_step) {}

  // Plain SGD (momentum == 0): no buffer.
  KITE_HD void operator()(T& param, T grad) const {
    const T d = grad + weight_decay * param;
    param -= lr * d;
  }

  KITE_HD void operator()(T& param, T grad, T& buffer) const {
    T d = grad + weight_decay * param;
    buffer = first_step ? d : momentum * buffer + d;
    d = nesterov ? d + momentum * buffer : buffer;
    param -= lr * d;
  }
};

template <class T>
struct AdamUpdate {
  T l2_decay, param_scale, one_minus_beta1, beta2, one_minus_beta2, eps, step_size,
      bias_correction2_sqrt;

  explicit AdamUpdate(const AdamScalars& s)
      : l2_decay(static_cast<T>(s.l2_decay)),
        param_scale(static_cast<T>(s.param_scale)),
        one_minus_beta1(static_cast<T>(1.0 - s.beta1)),
        beta2(static_cast<T>(s.beta2)),
        one_minus_beta2(static_cast<T>(1.0 - s.beta2)),
        eps(static_cast<T>(s.eps)),
        step_size(static_cast<T>(s.step_size)),
        bias_correction2_sqrt(static_cast<T>(s.bias_correction2_sqrt)) {}

  KITE_HD void operator()(T& param, T grad, T& exp_avg, T& exp_avg_sq) const {
    grad += l2_decay * param;
    param *= param_scale;
    exp_avg += one_minus_beta1 * (grad - exp_avg);
    exp_avg_sq = beta2 * exp_avg_sq + one_minus_beta2 * grad * grad;
    const T denom = k_sqrt(exp_avg_sq) / bias_correction2_sqrt + eps;
    param -= step_size * exp_avg / denom;
  }
};

// One term of the global gradient norm. Accumulated in double whatever the gradient's type,
// so that the norm of millions of float32 values does not lose digits.
template <class T>
KITE_HD double squared_as_double(T x) {
  const double d = static_cast<double>(x);
  return d * d;
}

}  // namespace kite
