// Reductions over any set of axes, with keepdim. An empty axis list means all axes.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace kite {

// Axes (engine/shape.h): a list of axes, each possibly negative.
Tensor sum(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor var(const Tensor& x, const Axes& axes = {}, bool unbiased = true, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor norm(const Tensor& x, double p = 2.0, const Axes& axes = {}, bool keepdim = false);
// Largest / smallest values over axes (gradient flows to the first maximal element).
Tensor amax(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const Axes& axes = {}, bool keepdim = false);

struct ValuesIndices {
  Tensor values;
  Tensor indices;  // int64
};
ValuesIndices max(const Tensor& x, int64_t axis, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t axis, bool keepdim = false);

// Sums a broadcast result back to `shape` (the backward of broadcasting). Returns x itself
// when the shapes already match.
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace kite
