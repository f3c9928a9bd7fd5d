// The arithmetic of the normalisation layers (batch, group and layer norm), shared by the CPU
// kernels and (later) the CUDA kernels.
//
// All three see their input as a contiguous [outer, groups, inner] array and normalise each
// of the `groups` slices over its outer * inner elements:
//   batch_norm  x [N, C, *]       outer = N, groups = C,     inner = prod(*)
//   group_norm  x [N, C, *], G    outer = 1, groups = N * G, inner = C / G * prod(*)
//   layer_norm  x [..., D...]     outer = 1, groups = rows,  inner = prod(D...)
// The affine weight and bias then apply per element, at the index
//   ((group % weight_mod) * inner + i) / weight_div
// which is the channel for batch norm (weight_mod = C, weight_div = inner) and group norm
// (weight_mod = G, weight_div = prod(*)), and the position within the row for layer norm
// (weight_mod = 1, weight_div = 1).
#pragma once

#include <cstdint>

#include "engine/hd.h"
#include "ops/math/scalar.h"

namespace kite::math {

struct NormLayout {
  int64_t outer = 1, groups = 1, inner = 1;
  int64_t weight_mod = 1, weight_div = 1;

  // Elements that share one mean and variance.
  KITE_HD int64_t group_size() const { return outer * inner; }
  KITE_HD int64_t numel() const { return outer * groups * inner; }
  KITE_HD int64_t weight_index(int64_t group, int64_t i) const {
    return ((group % weight_mod) * inner + i) / weight_div;
  }
  // Elements of the affine weight (and of its gradient).
  KITE_HD int64_t weight_count() const { return weight_mod * inner / weight_div; }
  // True for batch norm: the affine index is the group itself, constant over a slice.
  KITE_HD bool weight_per_group() const { return weight_mod == groups && weight_div == inner; }
};

template <class T>
KITE_HD T inverse_std(T var, T eps) {
  return T(1) / k_sqrt(var + eps);
}

// y = (x - mean) * invstd * weight + bias, folded into one multiply-add per element.
template <class T>
struct AffineNormalize {
  T scale, shift;
  KITE_HD AffineNormalize(T mean, T invstd, T weight, T bias)
      : scale(invstd * weight), shift(bias - mean * invstd * weight) {}
  KITE_HD T operator()(T x) const { return x * scale + shift; }
};

// Input gradient of batch norm in training mode for one element, given per-channel sums
// over the M = outer * inner elements of the channel:
//   dx = weight * invstd * (dy - sum_dy / M - xhat * sum_dy_xhat / M).
// For group and layer norm, whose weight varies within a group, the same formula holds with
// weight folded into dy (dxhat = dy * weight, weight_invstd = invstd, and the means taken
// of dxhat and dxhat * xhat).
template <class T>
KITE_HD T batch_norm_input_grad(T dy, T xhat, T weight_invstd, T mean_dy, T mean_dy_xhat) {
  return weight_invstd * (dy - mean_dy - xhat * mean_dy_xhat);
}

}  // namespace kite::math
