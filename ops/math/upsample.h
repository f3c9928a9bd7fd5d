// The coordinate math of image resampling, shared by the CPU kernels and (later) the CUDA
// kernels: which input pixel a nearest-neighbour output copies, and which two input
// pixels (with which weights) a bilinear output blends along each axis.
//
// Bilinear follows PyTorch's interpolate(mode="bilinear") given an output size:
//   align_corners = true:  src = o * (in - 1) / (out - 1)   (the corner pixels line up)
//   align_corners = false: src = (o + 0.5) * in / out - 0.5, clamped at 0 (pixel centres
//                          line up: the "half-pixel" convention of pytorch-fid's resize)
// and blends input pixels floor(src) and floor(src) + 1 (the last pixel repeats at the edge).
#pragma once

#include <cstdint>

#include "engine/hd.h"

namespace kite::math {

struct ResampleGeometry {
  int64_t batch = 0, channels = 0;
  int64_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  bool align_corners = false;  // bilinear only

  KITE_HD int64_t planes() const { return batch * channels; }
  KITE_HD int64_t in_plane() const { return in_h * in_w; }
  KITE_HD int64_t out_plane() const { return out_h * out_w; }
};

// Nearest neighbour with an integer scale: output o copies input o / scale.
KITE_HD int64_t nearest_source(int64_t o, int64_t in, int64_t out) { return o / (out / in); }

// Input distance between neighbouring outputs along one axis.
template <class T>
KITE_HD T linear_scale(int64_t in, int64_t out, bool align_corners) {
  if (align_corners) return out > 1 ? T(in - 1) / T(out - 1) : T(0);
  return T(in) / T(out);
}

// Output o reads w0 * x[i0] + w1 * x[i1].
template <class T>
struct LinearTaps {
  int64_t i0, i1;
  T w0, w1;
};

template <class T>
KITE_HD LinearTaps<T> linear_taps(int64_t o, int64_t in, T scale, bool align_corners) {
  T src = align_corners ? scale * T(o) : scale * (T(o) + T(0.5)) - T(0.5);
  if (src < T(0)) src = T(0);
  const int64_t i0 = static_cast<int64_t>(src);
  const int64_t i1 = i0 < in - 1 ? i0 + 1 : i0;
  const T w1 = src - T(i0);
  return {i0, i1, T(1) - w1, w1};
}

}  // namespace kite::math
