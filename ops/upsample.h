// Resampling NCHW images: nearest-neighbour upsampling by integer factors (the
// autoencoder's decoder) and bilinear resizing to any size (FID's resize to 299x299).
//
// Both are linear maps, differentiable with differentiable backwards: the backward of
// nearest upsampling is a sum over each block (an average pool with divisor 1), the backward
// of bilinear resizing is its own op whose backward is bilinear resizing again.
#pragma once

#include "engine/tensor.h"
#include "ops/conv.h"  // Size2d

namespace kite {

// x [N, C, H, W] -> [N, C, H * scale.h, W * scale.w], each pixel repeated in a block.
Tensor upsample_nearest2d(const Tensor& x, Size2d scale);

// x [N, C, H, W] -> [N, C, size.h, size.w] (see ops/math/upsample.h for the coordinates).
Tensor upsample_bilinear2d(const Tensor& x, Size2d size, bool align_corners = false);
// The adjoint of upsample_bilinear2d: grad_output [N, C, OH, OW] -> input_shape.
Tensor upsample_bilinear2d_backward(const Tensor& grad_output, const Shape& input_shape,
                                    bool align_corners = false);

}  // namespace kite
