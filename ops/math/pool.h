// The window math of 2-D pooling, shared by the CPU kernels and (later) the CUDA kernels:
// output sizes (with ceil_mode), the window each output reads, the divisor of average
// pooling, and the max of one window with the position it came from.
//
// Conventions follow PyTorch so that results match it exactly: windows start at
// o * stride - pad; with ceil_mode the last window may hang over the bottom/right edge but
// must start inside the input or the left/top padding; average pooling counts the padding in
// its divisor when count_include_pad is set (but never the overhang of ceil_mode).
#pragma once

#include <math.h>

#include <cstdint>

#include "engine/hd.h"

namespace kite::math {

struct Pool2dGeometry {
  int64_t batch = 0, channels = 0;
  int64_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;  // max pooling only
  bool count_include_pad = true;           // average pooling only
  int64_t divisor_override = 0;            // average pooling: divide by this when > 0

  KITE_HD int64_t planes() const { return batch * channels; }
  KITE_HD int64_t in_plane() const { return in_h * in_w; }
  KITE_HD int64_t out_plane() const { return out_h * out_w; }
};

// Output length along one axis. The caller has checked that the padded input holds one
// dilated window, so the numerator is non-negative.
KITE_HD int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                                 int64_t dilation, bool ceil_mode) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  int64_t out = (span + (ceil_mode ? stride - 1 : 0)) / stride + 1;
  // The last window must start inside the input or the leading padding.
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// Rows [h0, h1) and columns [w0, w1) of an average-pooling window, clipped to the input,
// and the number it is divided by.
struct AvgWindow {
  int64_t h0, h1, w0, w1;
  int64_t divisor;
};

KITE_HD AvgWindow avg_pool_window(const Pool2dGeometry& g, int64_t oh, int64_t ow) {
  int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
  // The window clipped to the padded input (ceil_mode's overhang does not count).
  int64_t h1 = h0 + g.kernel_h < g.in_h + g.pad_h ? h0 + g.kernel_h : g.in_h + g.pad_h;
  int64_t w1 = w0 + g.kernel_w < g.in_w + g.pad_w ? w0 + g.kernel_w : g.in_w + g.pad_w;
  const int64_t padded_size = (h1 - h0) * (w1 - w0);
  h0 = h0 > 0 ? h0 : 0;
  w0 = w0 > 0 ? w0 : 0;
  h1 = h1 < g.in_h ? h1 : g.in_h;
  w1 = w1 < g.in_w ? w1 : g.in_w;
  int64_t divisor = g.count_include_pad ? padded_size : (h1 - h0) * (w1 - w0);
  if (g.divisor_override > 0) divisor = g.divisor_override;
  return {h0, h1, w0, w1, divisor};
}

// The input taps of a max-pooling window along one axis: first, first + dilation, ... < end.
struct MaxTaps {
  int64_t first, end;
};
KITE_HD MaxTaps max_pool_taps(int64_t o, int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                              int64_t dilation) {
  int64_t first = o * stride - pad;
  int64_t end = first + (kernel - 1) * dilation + 1;
  if (end > in) end = in;
  while (first < 0) first += dilation;
  return {first, end};
}

// The largest value of one window of `plane` (one [in_h, in_w] image channel) and its flat
// index ih * in_w + iw in that plane. NaN wins (it propagates, as in PyTorch). An all -inf
// window reports its first tap.
template <class T>
struct MaxResult {
  T value;
  int64_t index;
};
template <class T>
KITE_HD MaxResult<T> max_pool_window(const T* plane, const Pool2dGeometry& g, int64_t oh,
                                     int64_t ow) {
  const MaxTaps th = max_pool_taps(oh, g.in_h, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h);
  const MaxTaps tw = max_pool_taps(ow, g.in_w, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w);
  MaxResult<T> best{-T(INFINITY), th.first * g.in_w + tw.first};
  for (int64_t ih = th.first; ih < th.end; ih += g.dilation_h) {
    for (int64_t iw = tw.first; iw < tw.end; iw += g.dilation_w) {
      const int64_t index = ih * g.in_w + iw;
      const T v = plane[index];
      if (v > best.value || v != v) best = {v, index};
    }
  }
  return best;
}

// Adaptive pooling: output o of `out` averages input rows [start, end) of `in`, with
// start = floor(o * in / out) and end = ceil((o + 1) * in / out).
KITE_HD int64_t adaptive_start(int64_t o, int64_t out, int64_t in) { return (o * in) / out; }
KITE_HD int64_t adaptive_end(int64_t o, int64_t out, int64_t in) {
  return ((o + 1) * in + out - 1) / out;
}

}  // namespace kite::math
