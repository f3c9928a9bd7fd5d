// 2-D pooling on NCHW images: max, average and adaptive average.
//
// Output sizes, windows and divisors follow PyTorch (see ops/math/pool.h), including
// ceil_mode and count_include_pad (FID's Inception-v3 averages with count_include_pad =
// false). Every op is differentiable with a differentiable backward: the backward of a pool
// is an op of its own (scattering or spreading the incoming gradient), and the backward of
// that op is the matching gather or pool again, so gradients of gradients work.
#pragma once

#include "engine/tensor.h"
#include "ops/conv.h"  // Size2d

namespace kite {

struct MaxPool2dOptions {
  Size2d kernel = 1;
  Size2d stride = 0;   // 0: the kernel size (PyTorch's default)
  Size2d padding = 0;  // on both sides, at most half the dilated kernel
  Size2d dilation = 1;
  bool ceil_mode = false;
};

struct AvgPool2dOptions {
  Size2d kernel = 1;
  Size2d stride = 0;   // 0: the kernel size
  Size2d padding = 0;  // on both sides, at most half the kernel
  bool ceil_mode = false;
  bool count_include_pad = true;  // divide by the window size including padding
  int64_t divisor_override = 0;   // > 0: divide every window by this instead
};

struct MaxPool2dResult {
  Tensor values;
  Tensor indices;  // int64, flat positions ih * W + iw within each input plane
};

// x [N, C, H, W] -> [N, C, OH, OW].
Tensor max_pool2d(const Tensor& x, const MaxPool2dOptions& options);
MaxPool2dResult max_pool2d_with_indices(const Tensor& x, const MaxPool2dOptions& options);
// The gradient of max pooling: zeros of input_shape with each grad_output element added at
// its saved index. Differentiable in grad_output (its backward gathers at the indices).
Tensor max_pool2d_backward(const Tensor& grad_output, const Tensor& indices,
                           const Shape& input_shape);

Tensor avg_pool2d(const Tensor& x, const AvgPool2dOptions& options);
// The adjoint of avg_pool2d: each grad_output element spread over its window (divided by the
// same divisor). Its own backward is avg_pool2d.
Tensor avg_pool2d_backward(const Tensor& grad_output, const Shape& input_shape,
                           const AvgPool2dOptions& options);

// Averages over windows [floor(o H / OH), ceil((o + 1) H / OH)) (the same along W).
Tensor adaptive_avg_pool2d(const Tensor& x, Size2d output_size);
Tensor adaptive_avg_pool2d_backward(const Tensor& grad_output, const Shape& input_shape);

}  // namespace kite
