// The backward passes of average pooling and bilinear upsampling written as gathers: the gradient
// of one input element, summed over the outputs that read it. Host+device (KITE_HD) so that the
// index math can be checked against the CPU's scatter loops without a GPU.
//
// Each function adds the contributions in increasing output order (row-major), and within one
// output in the order the CPU's scatter adds them, so the sums are the CPU's up to rounding:
// nvcc fuses a multiply and the add after it into one rounding (--fmad, on by default) where
// the CPU build may round twice, so the last bit can differ (the parity test allows for it).
// No two threads write the same element, so the kernels need no atomics.
#pragma once

#include <cstdint>

#include "engine/hd.h"
#include "ops/math/pool.h"
#include "ops/math/upsample.h"

namespace kite::cuda {

// First and last+1 output along one axis whose unclipped window [o * stride - pad,
// o * stride - pad + kernel) contains input position i, clipped to [0, out).
KITE_HD void pool_covering_outputs(int64_t i, int64_t kernel, int64_t stride, int64_t pad,
                                   int64_t out, int64_t& begin, int64_t& end) {
  // o * stride <= i + pad  and  o * stride > i + pad - kernel.
  const int64_t hi = i + pad;
  const int64_t lo = hi - kernel;
  begin = lo < 0 ? 0 : lo / stride + 1;
  end = hi < 0 ? 0 : hi / stride + 1;
  if (end > out) end = out;
  if (begin > end) begin = end;
}

// Average pooling: each covering output adds grad / divisor when its clipped window (the one
// the CPU scatters into) contains the element.
template <class T>
KITE_HD T avg_pool_input_grad(const T* grad, const math::Pool2dGeometry& g, int64_t ih,
                              int64_t iw) {
  int64_t oh0, oh1, ow0, ow1;
  pool_covering_outputs(ih, g.kernel_h, g.stride_h, g.pad_h, g.out_h, oh0, oh1);
  pool_covering_outputs(iw, g.kernel_w, g.stride_w, g.pad_w, g.out_w, ow0, ow1);
  T sum = T(0);
  for (int64_t oh = oh0; oh < oh1; ++oh)
    for (int64_t ow = ow0; ow < ow1; ++ow) {
      const math::AvgWindow win = math::avg_pool_window(g, oh, ow);
      if (ih < win.h0 || ih >= win.h1 || iw < win.w0 || iw >= win.w1) continue;
      sum += grad[oh * g.out_w + ow] / T(win.divisor);
    }
  return sum;
}

// Adaptive pooling: outputs o with adaptive_start(o) <= i < adaptive_end(o) run from
// floor(i * out / in) to ceil((i + 1) * out / in) - 1.
KITE_HD void adaptive_covering_outputs(int64_t i, int64_t in, int64_t out, int64_t& begin,
                                       int64_t& end) {
  begin = i * out / in;
  end = ((i + 1) * out + in - 1) / in;
  if (end > out) end = out;
  if (begin > end) begin = end;
}

template <class T>
KITE_HD T adaptive_avg_pool_input_grad(const T* grad, const math::Pool2dGeometry& g, int64_t ih,
                                       int64_t iw) {
  int64_t oh0, oh1, ow0, ow1;
  adaptive_covering_outputs(ih, g.in_h, g.out_h, oh0, oh1);
  adaptive_covering_outputs(iw, g.in_w, g.out_w, ow0, ow1);
  T sum = T(0);
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    const int64_t h0 = math::adaptive_start(oh, g.out_h, g.in_h);
    const int64_t h1 = math::adaptive_end(oh, g.out_h, g.in_h);
    if (ih < h0 || ih >= h1) continue;
    for (int64_t ow = ow0; ow < ow1; ++ow) {
      const int64_t w0 = math::adaptive_start(ow, g.out_w, g.in_w);
      const int64_t w1 = math::adaptive_end(ow, g.out_w, g.in_w);
      if (iw < w0 || iw >= w1) continue;
      sum += grad[oh * g.out_w + ow] / T((h1 - h0) * (w1 - w0));
    }
  }
  return sum;
}

// Bilinear: the outputs [begin, end) along one axis that can read input position i are those
// whose first tap i0 lies in [i - 1, i] (i0 == i, or i1 == i0 + 1 == i; at the last input
// i1 == i0 == i). i0 never decreases along the output axis, so binary search finds them.
template <class T>
KITE_HD int64_t first_output_with_tap_at_least(int64_t target, int64_t in, int64_t out, T scale,
                                               bool align_corners) {
  int64_t lo = 0, hi = out;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (math::linear_taps<T>(mid, in, scale, align_corners).i0 >= target)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// The four corner terms of each output in the CPU's order: (i0, i0), (i0, i1), (i1, i0),
// (i1, i1) as (row, column).
template <class T>
KITE_HD T bilinear_input_grad(const T* grad, const math::ResampleGeometry& g, T scale_h, T scale_w,
                              int64_t ih, int64_t iw) {
  const bool ac = g.align_corners;
  const int64_t oh0 = first_output_with_tap_at_least<T>(ih - 1, g.in_h, g.out_h, scale_h, ac);
  const int64_t oh1 = first_output_with_tap_at_least<T>(ih + 1, g.in_h, g.out_h, scale_h, ac);
  const int64_t ow0 = first_output_with_tap_at_least<T>(iw - 1, g.in_w, g.out_w, scale_w, ac);
  const int64_t ow1 = first_output_with_tap_at_least<T>(iw + 1, g.in_w, g.out_w, scale_w, ac);
  T sum = T(0);
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    const math::LinearTaps<T> h = math::linear_taps<T>(oh, g.in_h, scale_h, ac);
    for (int64_t ow = ow0; ow < ow1; ++ow) {
      const math::LinearTaps<T> w = math::linear_taps<T>(ow, g.in_w, scale_w, ac);
      const T v = grad[oh * g.out_w + ow];
      if (h.i0 == ih && w.i0 == iw) sum += h.w0 * w.w0 * v;
      if (h.i0 == ih && w.i1 == iw) sum += h.w0 * w.w1 * v;
      if (h.i1 == ih && w.i0 == iw) sum += h.w1 * w.w0 * v;
      if (h.i1 == ih && w.i1 == iw) sum += h.w1 * w.w1 * v;
    }
  }
  return sum;
}

}  // namespace kite::cuda
