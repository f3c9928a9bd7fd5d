// CPU kernels of 2-D pooling (see ops/nn_kernels.h for the contracts). Each (image, channel)
// plane is independent, so threads take whole planes; the window math is ops/math/pool.h.
#pragma once

#include "engine/tensor.h"
#include "ops/math/pool.h"

namespace kite::cpu {

void max_pool2d_kernel(const Tensor& input, const math::Pool2dGeometry& geometry,
                       const Tensor& output, const Tensor& indices);
void max_pool2d_backward_kernel(const Tensor& grad_output, const Tensor& indices,
                                const math::Pool2dGeometry& geometry, const Tensor& grad_input);
void avg_pool2d_kernel(const Tensor& input, const math::Pool2dGeometry& geometry,
                       const Tensor& output);
void avg_pool2d_backward_kernel(const Tensor& grad_output, const math::Pool2dGeometry& geometry,
                                const Tensor& grad_input);
void adaptive_avg_pool2d_kernel(const Tensor& input, const math::Pool2dGeometry& geometry,
                                const Tensor& output);
void adaptive_avg_pool2d_backward_kernel(const Tensor& grad_output,
                                         const math::Pool2dGeometry& geometry,
                                         const Tensor& grad_input);

}  // namespace kite::cpu
