// 2-D convolution and transposed convolution on NCHW images, and the weight gradient of a
// convolution as an op of its own. Also the small size/padding types the other spatial ops
// (pooling, resampling) share.
//
// All three ops are differentiable with differentiable backwards, written in each other:
//   conv2d            d/dx = conv_transpose2d(g, w)      d/dw = conv2d_weight_grad(x, g)
//   conv_transpose2d  d/dx = conv2d(g, w)                d/dw = conv2d_weight_grad(g, x)
//   conv2d_weight_grad(x, g) with incoming G:
//                     d/dx = conv_transpose2d(g, G)      d/dg = conv2d(x, G)
// so gradients of gradients work (spectral normalisation of convolutions and i-ResNet flows
// need them). On the CPU they run as im2col/col2im plus the engine's GEMM; 1x1, stride-1,
// unpadded convolutions go straight to GEMM, and stride-1 convolutions with one or two
// output channels per group (a final conv to one image channel, depthwise convs) run as
// direct loops (see ops/cpu/conv.cpp).
//
// Options use designated initializers:
//   conv2d(x, w, b, {.stride = 2, .padding = 1});
//   conv2d(x, w, {}, {.padding = {0, 3}});             // 1x7 kernel: 0 rows, 3 columns
//   conv2d(x, w, {}, {.padding = {0, 1, 0, 1}});       // asymmetric: top, bottom, left, right
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace kite {

// A (height, width) pair; one number means both.
struct Size2d {
  int64_t h = 1, w = 1;
  constexpr Size2d() = default;
  constexpr Size2d(int64_t both) : h(both), w(both) {}  // NOLINT: implicit on purpose
  constexpr Size2d(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  bool operator==(const Size2d&) const = default;
};

// Rows added above and below, columns left and right. One number pads all four sides;
// two numbers (rows, columns) pad symmetrically.
struct Padding2d {
  int64_t top = 0, bottom = 0, left = 0, right = 0;
  constexpr Padding2d() = default;
  constexpr Padding2d(int64_t all) : top(all), bottom(all), left(all), right(all) {}  // NOLINT
  constexpr Padding2d(int64_t rows, int64_t cols)
      : top(rows), bottom(rows), left(cols), right(cols) {}
  constexpr Padding2d(int64_t top_, int64_t bottom_, int64_t left_, int64_t right_)
      : top(top_), bottom(bottom_), left(left_), right(right_) {}
  bool operator==(const Padding2d&) const = default;
};

struct Conv2dOptions {
  Size2d stride = 1;
  Padding2d padding = 0;
  Size2d dilation = 1;
  int64_t groups = 1;
};

struct ConvTranspose2dOptions {
  Size2d stride = 1;
  Padding2d padding = 0;      // cropped from the full transposed output
  Size2d output_padding = 0;  // extra rows/columns at the bottom/right; must be < stride
  Size2d dilation = 1;
  int64_t groups = 1;
};

// input [N, C, H, W], weight [O, C / groups, KH, KW], bias [O] or undefined
// -> [N, O, (H + top + bottom - dilation_h (KH - 1) - 1) / stride_h + 1, ...].
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv2dOptions& options = {});

// The adjoint of conv2d with respect to its input (the "deconvolution").
// input [N, Cin, H, W], weight [Cin, Cout / groups, KH, KW], bias [Cout] or undefined
// -> [N, Cout, (H - 1) stride_h - top - bottom + dilation_h (KH - 1) + 1 + output_padding_h, ...].
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
                        const ConvTranspose2dOptions& options = {});

// d(sum(grad_output * conv2d(input, w, options))) / dw: the weight gradient of conv2d, with
// weight_shape [O, C / groups, KH, KW] and grad_output shaped like conv2d's output.
Tensor conv2d_weight_grad(const Tensor& input, const Tensor& grad_output, const Shape& weight_shape,
                          const Conv2dOptions& options = {});

}  // namespace kite
