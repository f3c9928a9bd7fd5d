// CPU kernels of image resampling (see ops/nn_kernels.h for the contracts): nearest
// upsampling and bilinear resizing with its adjoint. Threads take whole planes; the
// coordinate math is ops/math/upsample.h.
#pragma once

#include "engine/tensor.h"
#include "ops/math/upsample.h"

namespace kite::cpu {

void upsample_nearest2d_kernel(const Tensor& input, const math::ResampleGeometry& geometry,
                               const Tensor& output);
void upsample_bilinear2d_kernel(const Tensor& input, const math::ResampleGeometry& geometry,
                                const Tensor& output);
void upsample_bilinear2d_backward_kernel(const Tensor& grad_output,
                                         const math::ResampleGeometry& geometry,
                                         const Tensor& grad_input);

}  // namespace kite::cpu
