// The index math of 2-D convolution, shared by the CPU kernels and the CUDA kernels: output
// sizes, which input pixel an output pixel reads through a kernel tap, the im2col / col2im
// element formulas, and the direct (im2col-free) output pixel.
//
// im2col turns one group of one image into a matrix with one row per (input channel, kh, kw)
// and one column per output pixel, so that the convolution becomes a matrix product:
//   out[o, oh * out_w + ow] = sum_r weight[o, r] * col[r, oh * out_w + ow],
//   col[(c * kernel_h + kh) * kernel_w + kw, oh * out_w + ow]
//       = x[c, oh * stride_h - pad_top + kh * dilation_h, ow * stride_w - pad_left + kw *
//       dilation_w]
// (zero where that pixel lies in the padding). col2im is its adjoint: it adds every column
// entry back onto the pixel it was copied from.
#pragma once

#include <cstdint>

#include "engine/hd.h"

namespace kite::math {

// One convolution in the conv2d direction: `in` is conv2d's input, `out` its output. The
// transposed convolution and the gradients use the same geometry (conv_transpose2d maps
// `out`-shaped tensors to `in`-shaped ones). Bottom/right padding only shapes out_h/out_w.
struct ConvGeometry {
  int64_t batch = 0;
  int64_t in_channels = 0, in_h = 0, in_w = 0;
  int64_t out_channels = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;

  KITE_HD int64_t in_channels_per_group() const { return in_channels / groups; }
  KITE_HD int64_t out_channels_per_group() const { return out_channels / groups; }
  KITE_HD int64_t in_plane() const { return in_h * in_w; }
  KITE_HD int64_t out_plane() const { return out_h * out_w; }
  // Rows of one group's im2col matrix (= columns of one group's weight matrix).
  KITE_HD int64_t col_rows() const { return in_channels_per_group() * kernel_h * kernel_w; }
  // A 1x1, stride-1, unpadded convolution reads the input as it is: no im2col needed.
  KITE_HD bool is_pointwise() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_top == 0 &&
           pad_left == 0 && out_h == in_h && out_w == in_w;
  }
};

// Extent of a dilated kernel: the distance from its first to its last tap, plus one.
KITE_HD int64_t dilated_kernel_size(int64_t kernel, int64_t dilation) {
  return dilation * (kernel - 1) + 1;
}

// Output length along one axis; the caller has checked that the padded input holds at least
// one dilated kernel (so the numerator is non-negative and division rounds down).
KITE_HD int64_t conv_output_size(int64_t in, int64_t pad_before, int64_t pad_after, int64_t kernel,
                                 int64_t stride, int64_t dilation) {
  return (in + pad_before + pad_after - dilated_kernel_size(kernel, dilation)) / stride + 1;
}

// Length of conv_transpose2d's output along one axis (the conv2d input it reconstructs).
KITE_HD int64_t conv_transpose_output_size(int64_t in, int64_t pad_before, int64_t pad_after,
                                           int64_t kernel, int64_t stride, int64_t dilation,
                                           int64_t output_padding) {
  return (in - 1) * stride - pad_before - pad_after + dilated_kernel_size(kernel, dilation) +
         output_padding;
}

// Input coordinate read by output coordinate `o` through kernel tap `k`; may fall in the
// padding (outside [0, in)).
KITE_HD int64_t conv_input_coord(int64_t o, int64_t k, int64_t stride, int64_t pad_before,
                                 int64_t dilation) {
  return o * stride - pad_before + k * dilation;
}

struct IndexRange {
  int64_t begin = 0, end = 0;
};

// The outputs o in [0, out) whose tap k reads inside [0, in): 0 <= o*s - p + k*d < in.
// Outside this range the tap reads padding. Lets loops skip bounds checks per element.
KITE_HD IndexRange conv_valid_outputs(int64_t in, int64_t out, int64_t k, int64_t stride,
                                      int64_t pad_before, int64_t dilation) {
  const int64_t shift = pad_before - k * dilation;  // o * s >= shift and o * s <= in - 1 + shift
  const int64_t begin = shift <= 0 ? 0 : (shift + stride - 1) / stride;
  const int64_t last = in - 1 + shift;
  int64_t end = last < 0 ? 0 : last / stride + 1;
  if (end > out) end = out;
  return {begin < end ? begin : end, end};
}

// Splits an im2col row index into (channel within the group, kh, kw).
struct ColRow {
  int64_t channel, kh, kw;
};
KITE_HD ColRow split_col_row(const ConvGeometry& g, int64_t row) {
  return {row / (g.kernel_h * g.kernel_w), (row / g.kernel_w) % g.kernel_h, row % g.kernel_w};
}

// What output pixel (oh, ow) reads through tap (kh, kw) of one input channel plane xc
// [in_h, in_w]: the pixel, or zero in the padding.
template <class T>
KITE_HD T im2col_tap(const T* xc, const ConvGeometry& g, int64_t kh, int64_t kw, int64_t oh,
                     int64_t ow) {
  const int64_t ih = conv_input_coord(oh, kh, g.stride_h, g.pad_top, g.dilation_h);
  const int64_t iw = conv_input_coord(ow, kw, g.stride_w, g.pad_left, g.dilation_w);
  if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) return T(0);
  return xc[ih * g.in_w + iw];
}

// Element (row, col) of one group's im2col matrix; x points at that group's first input
// channel of one image (contiguous [in_channels_per_group, in_h, in_w]).
template <class T>
KITE_HD T im2col_element(const T* x, const ConvGeometry& g, int64_t row, int64_t col) {
  const ColRow r = split_col_row(g, row);
  return im2col_tap(x + r.channel * g.in_plane(), g, r.kh, r.kw, col / g.out_w, col % g.out_w);
}

// col2im written as a gather: the sum of the im2col entries copied from input pixel
// (channel, ih, iw) of one group, where entry(row, p) gives the entry in row `row` and
// column (output pixel) p. (A GPU kernel computes each pixel with this, free of write
// conflicts; the CPU kernel scatters row by row instead, which streams memory better.)
template <class T, class Entry>
KITE_HD T col2im_gather(const ConvGeometry& g, int64_t channel, int64_t ih, int64_t iw,
                        Entry entry) {
  T sum = T(0);
  for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
    // Stride 1 skips the divisions, which a GPU does in software for 64-bit integers.
    const int64_t num_h = ih + g.pad_top - kh * g.dilation_h;
    if (num_h < 0 || (g.stride_h != 1 && num_h % g.stride_h != 0)) continue;
    const int64_t oh = g.stride_h == 1 ? num_h : num_h / g.stride_h;
    if (oh >= g.out_h) continue;
    for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
      const int64_t num_w = iw + g.pad_left - kw * g.dilation_w;
      if (num_w < 0 || (g.stride_w != 1 && num_w % g.stride_w != 0)) continue;
      const int64_t ow = g.stride_w == 1 ? num_w : num_w / g.stride_w;
      if (ow >= g.out_w) continue;
      sum += entry((channel * g.kernel_h + kh) * g.kernel_w + kw, oh * g.out_w + ow);
    }
  }
  return sum;
}

// col2im_gather on a stored matrix: col is one group's [col_rows, out_plane].
template <class T>
KITE_HD T col2im_element(const T* col, const ConvGeometry& g, int64_t channel, int64_t ih,
                         int64_t iw) {
  const int64_t p_size = g.out_plane();
  return col2im_gather<T>(g, channel, ih, iw,
                          [col, p_size](int64_t row, int64_t p) { return col[row * p_size + p]; });
}

// conv2d's output pixel (oh, ow) of one output channel, summed over the kernel's taps with
// no im2col matrix: sum over (c, kh, kw) of w[(c * kernel_h + kh) * kernel_w + kw] *
// x[c, ih, iw], which is sum_r w[r] * im2col_element(x, g, r, oh * out_w + ow). x as in
// im2col_element; w is the channel's weight row (col_rows values). For convolutions with few
// output channels, where the im2col matrix would be most of the memory traffic.
template <class T>
KITE_HD T conv_direct_element(const T* x, const T* w, const ConvGeometry& g, int64_t oh,
                              int64_t ow) {
  T sum = T(0);
  for (int64_t c = 0; c < g.in_channels_per_group(); ++c) {
    const T* xc = x + c * g.in_plane();
    const T* wc = w + c * g.kernel_h * g.kernel_w;
    for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
      const int64_t ih = conv_input_coord(oh, kh, g.stride_h, g.pad_top, g.dilation_h);
      if (ih < 0 || ih >= g.in_h) continue;
      for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
        const int64_t iw = conv_input_coord(ow, kw, g.stride_w, g.pad_left, g.dilation_w);
        if (iw < 0 || iw >= g.in_w) continue;
        sum += wc[kh * g.kernel_w + kw] * xc[ih * g.in_w + iw];
      }
    }
  }
  return sum;
}

}  // namespace kite::math
