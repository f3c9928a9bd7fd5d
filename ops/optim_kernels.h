// Fused, in-place, no-grad parameter updates (one kernel pass per parameter), and the
// global gradient-norm clip. The optimizer classes in models/optim build on these.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace kite {

struct SgdParams {
  double lr = 1e-2, momentum = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};
// momentum_buffer may be undefined when momentum == 0.
void sgd_step_(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
               const SgdParams& p, bool first_step);

struct AdamParams {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled_weight_decay = false;  // true = AdamW
};
// step counts from 1 (bias correction).
void adam_step_(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                const Tensor& exp_avg_sq, const AdamParams& p, int64_t step);

// Scales every gradient in place so that their joint L2 norm is at most max_norm; returns
// the norm before clipping.
double clip_grad_norm_(const std::vector<Tensor>& grads, double max_norm);

}  // namespace kite
