// CPU kernels of the fused optimizer updates and of the gradient-norm clip
// (see ops/optim_kernels_dispatch.h for the layout contract: contiguous, validated tensors).
#pragma once

#include "engine/tensor.h"
#include "ops/math/optim.h"

namespace kite::cpu {

void sgd_step_kernel(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                     const SgdScalars& scalars);
void adam_step_kernel(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                      const Tensor& exp_avg_sq, const AdamScalars& scalars);
double sum_of_squares_kernel(const Tensor& x);
void scale_kernel(const Tensor& x, double factor);

}  // namespace kite::cpu
