// CPU kernels of the normalisation layers (see ops/nn_kernels.h for the contracts):
// per-slice moments, normalise-and-affine, and the fused backwards (batch norm's, and one for
// any layout, used by group and layer norm). Threads take
// whole statistics groups (moments, backward) or whole [outer, group] slices (apply); the
// arithmetic is ops/math/norm.h.
#pragma once

#include "engine/tensor.h"
#include "ops/math/norm.h"

namespace kite::cpu {

void norm_moments_kernel(const Tensor& input, const math::NormLayout& layout, const Tensor& mean,
                         const Tensor& var);
void norm_apply_kernel(const Tensor& input, const Tensor& mean, const Tensor& var,
                       const Tensor& weight, const Tensor& bias, const math::NormLayout& layout,
                       double eps, const Tensor& output);
void batch_norm_backward_kernel(const Tensor& grad_output, const Tensor& input, const Tensor& mean,
                                const Tensor& var, const Tensor& weight,
                                const math::NormLayout& layout, double eps,
                                const Tensor& grad_input, const Tensor& grad_weight,
                                const Tensor& grad_bias);
void norm_backward_kernel(const Tensor& grad_output, const Tensor& input, const Tensor& mean,
                          const Tensor& var, const Tensor& weight, const math::NormLayout& layout,
                          double eps, const Tensor& grad_input, const Tensor& grad_weight,
                          const Tensor& grad_bias);

}  // namespace kite::cpu
