// Views (share storage, no copy) and joins. Every op here is differentiable.
//
// reshape returns a view when the strides allow it and copies otherwise; view() insists on
// a view. Negative axes count from the end everywhere.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace kite {

Tensor reshape(const Tensor& x, const Shape& shape);  // one -1 allowed
Tensor view(const Tensor& x, const Shape& shape);     // throws when a copy would be needed
Tensor flatten(const Tensor& x, int64_t start_axis = 0, int64_t end_axis = -1);
Tensor permute(const Tensor& x, const Axes& axes);
Tensor transpose(const Tensor& x, int64_t axis0, int64_t axis1);
Tensor narrow(const Tensor& x, int64_t axis, int64_t start, int64_t length);
Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t end, int64_t step = 1);
Tensor select(const Tensor& x, int64_t axis, int64_t index);  // drops the axis
Tensor expand(const Tensor& x, const Shape& shape);           // numpy broadcasting to `shape`
Tensor squeeze(const Tensor& x, int64_t axis);
Tensor squeeze(const Tensor& x);  // all size-1 axes
Tensor unsqueeze(const Tensor& x, int64_t axis);
Tensor contiguous(const Tensor& x);  // x itself when already contiguous

Tensor cat(const std::vector<Tensor>& tensors, int64_t axis = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t axis = 0);
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t axis = 0);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t axis = 0);

// index: int64 tensor. index_select picks whole slices along axis (index is 1-D); gather
// picks elements (index has x's rank, like torch.gather).
Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index);
Tensor gather(const Tensor& x, int64_t axis, const Tensor& index);
// Inverse of gather for gradients: zeros of `shape` with src added at index along axis.
Tensor scatter_add(const Shape& shape, int64_t axis, const Tensor& index, const Tensor& src);
// Inverse of index_select: zeros of `shape` with src's slices added at index along axis.
Tensor index_add(const Shape& shape, int64_t axis, const Tensor& index, const Tensor& src);

// Constant padding. pads = {before_last, after_last, before_second_last, ...} as in
// torch.nn.functional.pad; negative pads crop.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value = 0.0);

// int64 labels -> floating one-hot with a new last axis of size num_classes.
Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype = DType::Float32);

}  // namespace kite
