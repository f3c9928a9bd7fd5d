// Views, joins and indexing (see shape_ops.h).
//
// A view is a new (shape, strides, offset) over the same storage (Tensor::as_strided) plus a
// recorded backward. Joins and copies move data with the factories' copy kernel
// (ops/factory_kernels.h); the indexing ops have kernels of their own (ops/shape_kernels.h).
//
// Every backward is written with ops of this file, so gradients of gradients work:
//   reshape <-> reshape, permute <-> inverse permute, expand <-> sum_to,
//   slice/narrow/select -> slice_backward (zeros with g written into the slice) -> slice,
//   cat -> narrow, index_select <-> index_add, gather <-> scatter_add, pad(p) <-> pad(-p).
#include "ops/shape_ops.h"

#include <algorithm>
#include <optional>

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/cpu/shape.h"
#include "ops/factory.h"
#include "ops/factory_kernels.h"
#include "ops/reduce.h"
#include "ops/shape_kernels.h"

namespace kite {

DispatchStub<IndexSelectFn> index_select_stub{"index_select", cpu::index_select_kernel};
DispatchStub<IndexAddFn> index_add_stub{"index_add", cpu::index_add_kernel};
DispatchStub<GatherFn> gather_stub{"gather", cpu::gather_kernel};
DispatchStub<ScatterAddFn> scatter_add_stub{"scatter_add", cpu::scatter_add_kernel};

namespace {

void check_defined(const Tensor& x, const char* op) {
  KITE_CHECK(x.defined(), op << ": undefined tensor");
}

void check_has_axes(const Tensor& x, const char* op) {
  check_defined(x, op);
  KITE_CHECK(x.dim() > 0, op << ": expected a tensor with at least one axis, got " << describe(x));
}

// A view of x recorded as a reshape: its gradient is g reshaped back to x's shape.
Tensor reshaped_view(const char* op, const Tensor& x, const Shape& shape, const Shape& strides,
                     int64_t offset) {
  Tensor out = x.as_strided(shape, strides, offset);
  autograd::record(op, {x}, out, [in_shape = x.shape()](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{reshape(g, in_shape)};
  });
  return out;
}

// Strides that give `shape` over x's elements in row-major order without moving them, or
// nothing when a copy is needed. Old axes are grouped into chunks that are contiguous among
// themselves (each axis' stride = the next one's stride * size); a new shape is a view exactly
// when its axes can be grouped into the same chunks.
std::optional<Shape> view_strides(const Tensor& x, const Shape& shape) {
  if (x.is_contiguous() || x.numel() <= 1) return contiguous_strides(shape);
  const Shape& old_shape = x.shape();
  const Shape& old_strides = x.strides();
  Shape strides(shape.size());
  int64_t view_axis = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_stride = old_strides.back();  // stride of the innermost axis of the chunk
  int64_t chunk_numel = 1, view_numel = 1;
  for (int64_t d = x.dim() - 1; d >= 0; --d) {
    chunk_numel *= old_shape[d];
    const bool chunk_ends =
        d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != chunk_numel * chunk_stride);
    if (!chunk_ends) continue;
    while (view_axis >= 0 && (view_numel < chunk_numel || shape[view_axis] == 1)) {
      strides[view_axis] = view_numel * chunk_stride;
      view_numel *= shape[view_axis];
      --view_axis;
    }
    if (view_numel != chunk_numel) return std::nullopt;
    if (d > 0) {
      chunk_stride = old_strides[d - 1];
      chunk_numel = view_numel = 1;
    }
  }
  if (view_axis != -1) return std::nullopt;
  return strides;
}

// Resolves one -1 and checks that the element count is unchanged.
Shape resolve_shape(const char* op, const Tensor& x, const Shape& requested) {
  Shape shape = requested;
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      KITE_CHECK(infer < 0, op << ": more than one -1 in " << shape_str(requested));
      infer = static_cast<int64_t>(i);
    } else {
      KITE_CHECK(shape[i] >= 0, op << ": negative size in " << shape_str(requested));
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    KITE_CHECK(known != 0 && x.numel() % known == 0,
               op << ": cannot infer the -1 of " << shape_str(requested) << " for " << describe(x));
    shape[infer] = x.numel() / known;
  }
  KITE_CHECK(numel_of(shape) == x.numel(), op << ": cannot reshape " << describe(x) << " ("
                                              << x.numel() << " elements) into "
                                              << shape_str(requested));
  return shape;
}

// The view x[..., start:end:step, ...] along axis (already validated), recorded with a
// slice_backward of g.
Tensor slice_view(const char* op, const Tensor& x, int64_t axis, int64_t start, int64_t end,
                  int64_t step);

// Zeros of `shape` with g written into the slice [start:end:step] of axis. The backward of
// slicing, and itself differentiable (its backward is the slice again).
Tensor slice_backward(const Tensor& g, const Shape& shape, int64_t axis, int64_t start, int64_t end,
                      int64_t step) {
  Tensor out = Tensor::empty(shape, g.dtype(), g.device());
  if (out.numel() > 0) fill_stub.get(out.device())(out, 0.0);
  Shape region_shape = shape;
  region_shape[axis] = g.shape()[axis];
  Shape region_strides = out.strides();
  region_strides[axis] *= step;
  Tensor region = out.as_strided(region_shape, region_strides, start * out.strides()[axis]);
  if (g.numel() > 0) copy_stub.get(g.device())(g, region);
  autograd::record("slice_backward", {g}, out,
                   [axis, start, end, step](const Tensor& gg, const BackwardContext&) {
                     return std::vector<Tensor>{slice(gg, axis, start, end, step)};
                   });
  return out;
}

Tensor slice_view(const char* op, const Tensor& x, int64_t axis, int64_t start, int64_t end,
                  int64_t step) {
  Shape shape = x.shape(), strides = x.strides();
  shape[axis] = end > start ? (end - start + step - 1) / step : 0;
  strides[axis] *= step;
  Tensor out = x.as_strided(shape, strides, x.offset() + start * x.strides()[axis]);
  autograd::record(
      op, {x}, out,
      [in_shape = x.shape(), axis, start, end, step](const Tensor& g, const BackwardContext&) {
        return std::vector<Tensor>{slice_backward(g, in_shape, axis, start, end, step)};
      });
  return out;
}

// Checks that tensors can be joined: same rank, dtype, device, and the same sizes except
// along skip_axis (-1: all sizes equal).
void check_joinable(const char* op, const std::vector<Tensor>& tensors, int64_t skip_axis) {
  KITE_CHECK(!tensors.empty(), op << ": expected at least one tensor");
  const Tensor& first = tensors[0];
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    KITE_CHECK(t.defined(), op << ": tensor " << i << " is undefined");
    KITE_CHECK(t.dtype() == first.dtype(), op << ": tensor " << i << " is " << describe(t)
                                              << " but tensor 0 is " << describe(first)
                                              << ": dtypes differ");
    KITE_CHECK(t.device() == first.device(), op << ": tensor " << i << " is " << describe(t)
                                                << " but tensor 0 is " << describe(first)
                                                << ": devices differ");
    bool match = t.dim() == first.dim();
    for (int64_t d = 0; match && d < t.dim(); ++d)
      if (d != skip_axis && t.shape()[d] != first.shape()[d]) match = false;
    KITE_CHECK(match, op << ": tensor " << i << " has shape " << shape_str(t.shape())
                         << " but tensor 0 has " << shape_str(first.shape())
                         << (skip_axis >= 0 ? ": sizes must match except along axis " +
                                                  std::to_string(skip_axis)
                                            : std::string(": shapes must match")));
  }
}

// A contiguous int64 index on x's device whose values lie in [0, size). A GPU index is copied
// back to be checked too: the kernels use the values as addresses, so a bad one would read or
// write outside the tensor. The copy waits for the GPU (as cross_entropy's label check does);
// index tensors are small next to the data they select.
Tensor checked_index(const char* op, const Tensor& index, const Tensor& data, int64_t axis,
                     int64_t size) {
  check_defined(index, op);
  KITE_CHECK(index.dtype() == DType::Int64,
             op << ": index must be an int64 tensor, got " << describe(index));
  KITE_CHECK(index.device() == data.device(), op << ": index " << describe(index) << " and data "
                                                 << describe(data) << " are on different devices");
  Tensor idx = contiguous(index.detach());
  const Tensor host = to_device(idx, Device::cpu());
  const int64_t* values = host.data_ptr<int64_t>();
  for (int64_t i = 0; i < host.numel(); ++i)
    KITE_CHECK(values[i] >= 0 && values[i] < size, op << ": index " << values[i]
                                                      << " is out of range for axis " << axis
                                                      << " of size " << size);
  return idx;
}

Tensor zeros_on(const Shape& shape, const Tensor& like) {
  Tensor out = Tensor::empty(shape, like.dtype(), like.device());
  if (out.numel() > 0) fill_stub.get(out.device())(out, 0.0);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------- views

Tensor reshape(const Tensor& x, const Shape& shape) {
  check_defined(x, "reshape");
  const Shape resolved = resolve_shape("reshape", x, shape);
  if (std::optional<Shape> strides = view_strides(x, resolved))
    return reshaped_view("reshape", x, resolved, *strides, x.offset());
  return reshape(contiguous(x), resolved);
}

Tensor view(const Tensor& x, const Shape& shape) {
  check_defined(x, "view");
  const Shape resolved = resolve_shape("view", x, shape);
  std::optional<Shape> strides = view_strides(x, resolved);
  KITE_CHECK(strides.has_value(), "view: cannot view " << describe(x) << " with strides "
                                                       << shape_str(x.strides()) << " as "
                                                       << shape_str(resolved)
                                                       << " without a copy; use reshape");
  return reshaped_view("view", x, resolved, *strides, x.offset());
}

Tensor flatten(const Tensor& x, int64_t start_axis, int64_t end_axis) {
  check_defined(x, "flatten");
  if (x.dim() == 0) return reshape(x, {1});
  const int64_t start = normalize_axis(start_axis, x.dim(), "flatten");
  const int64_t end = normalize_axis(end_axis, x.dim(), "flatten");
  KITE_CHECK(start <= end, "flatten: start axis " << start_axis << " comes after end axis "
                                                  << end_axis << " for " << describe(x));
  Shape shape(x.shape().begin(), x.shape().begin() + start);
  int64_t merged = 1;
  for (int64_t d = start; d <= end; ++d) merged *= x.shape()[d];
  shape.push_back(merged);
  shape.insert(shape.end(), x.shape().begin() + end + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor permute(const Tensor& x, const Axes& axes) {
  check_defined(x, "permute");
  const int64_t dim = x.dim();
  KITE_CHECK(
      static_cast<int64_t>(axes.size()) == dim,
      "permute: " << shape_str(axes) << " is not a permutation of the axes of " << describe(x));
  Shape shape(dim), strides(dim);
  Axes inverse(dim, -1);
  for (int64_t i = 0; i < dim; ++i) {
    const int64_t a = normalize_axis(axes[i], dim, "permute");
    KITE_CHECK(inverse[a] < 0,
               "permute: axis " << axes[i] << " appears twice in " << shape_str(axes));
    inverse[a] = i;
    shape[i] = x.shape()[a];
    strides[i] = x.strides()[a];
  }
  Tensor out = x.as_strided(shape, strides, x.offset());
  autograd::record("permute", {x}, out, [inverse](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{permute(g, inverse)};
  });
  return out;
}

Tensor transpose(const Tensor& x, int64_t axis0, int64_t axis1) {
  check_defined(x, "transpose");
  const int64_t a = normalize_axis(axis0, x.dim(), "transpose");
  const int64_t b = normalize_axis(axis1, x.dim(), "transpose");
  Axes axes(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) axes[i] = i;
  if (a != b) std::swap(axes[a], axes[b]);
  return permute(x, axes);
}

Tensor narrow(const Tensor& x, int64_t axis, int64_t start, int64_t length) {
  check_has_axes(x, "narrow");
  const int64_t a = normalize_axis(axis, x.dim(), "narrow");
  const int64_t size = x.shape()[a];
  const int64_t begin = start < 0 ? start + size : start;
  KITE_CHECK(begin >= 0 && length >= 0 && begin + length <= size,
             "narrow: start " << start << " and length " << length << " do not fit axis " << a
                              << " of " << describe(x));
  return slice_view("narrow", x, a, begin, begin + length, 1);
}

Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t end, int64_t step) {
  check_has_axes(x, "slice");
  KITE_CHECK(step > 0, "slice: step must be positive, got " << step);
  const int64_t a = normalize_axis(axis, x.dim(), "slice");
  const int64_t size = x.shape()[a];
  // Python semantics: negative bounds count from the end, out-of-range bounds are clamped.
  auto clamp_bound = [size](int64_t bound) {
    if (bound < 0) bound += size;
    return std::clamp<int64_t>(bound, 0, size);
  };
  const int64_t begin = clamp_bound(start);
  const int64_t stop = std::max(begin, clamp_bound(end));
  return slice_view("slice", x, a, begin, stop, step);
}

Tensor select(const Tensor& x, int64_t axis, int64_t index) {
  check_has_axes(x, "select");
  const int64_t a = normalize_axis(axis, x.dim(), "select");
  const int64_t size = x.shape()[a];
  const int64_t i = index < 0 ? index + size : index;
  KITE_CHECK(i >= 0 && i < size, "select: index " << index << " is out of range for axis " << a
                                                  << " of " << describe(x));
  Shape shape = x.shape(), strides = x.strides();
  shape.erase(shape.begin() + a);
  strides.erase(strides.begin() + a);
  Tensor out = x.as_strided(shape, strides, x.offset() + i * x.strides()[a]);
  autograd::record(
      "select", {x}, out, [in_shape = x.shape(), a, i](const Tensor& g, const BackwardContext&) {
        return std::vector<Tensor>{slice_backward(unsqueeze(g, a), in_shape, a, i, i + 1, 1)};
      });
  return out;
}

Tensor expand(const Tensor& x, const Shape& shape) {
  check_defined(x, "expand");
  const int64_t dim = static_cast<int64_t>(shape.size());
  const int64_t lead = dim - x.dim();
  KITE_CHECK(lead >= 0,
             "expand: cannot expand " << describe(x) << " to fewer axes " << shape_str(shape));
  Shape sizes(dim), strides(dim, 0);
  for (int64_t d = 0; d < dim; ++d) {
    if (d < lead) {
      KITE_CHECK(shape[d] >= 0, "expand: invalid size " << shape[d] << " in " << shape_str(shape)
                                                        << " for " << describe(x));
      sizes[d] = shape[d];
      continue;
    }
    const int64_t own = x.shape()[d - lead];
    const int64_t target = shape[d] == -1 ? own : shape[d];
    KITE_CHECK(target == own || own == 1,
               "expand: cannot expand " << describe(x) << " to " << shape_str(shape));
    sizes[d] = target;
    strides[d] = target == own ? x.strides()[d - lead] : 0;
  }
  Tensor out = x.as_strided(sizes, strides, x.offset());
  autograd::record("expand", {x}, out,
                   [in_shape = x.shape()](const Tensor& g, const BackwardContext&) {
                     return std::vector<Tensor>{sum_to(g, in_shape)};
                   });
  return out;
}

Tensor squeeze(const Tensor& x, int64_t axis) {
  check_defined(x, "squeeze");
  const int64_t a = normalize_axis(axis, x.dim(), "squeeze");
  if (x.dim() == 0) return reshaped_view("squeeze", x, {}, {}, x.offset());
  KITE_CHECK(x.shape()[a] == 1, "squeeze: axis " << axis << " of " << describe(x) << " has size "
                                                 << x.shape()[a] << ", not 1");
  Shape shape = x.shape(), strides = x.strides();
  shape.erase(shape.begin() + a);
  strides.erase(strides.begin() + a);
  return reshaped_view("squeeze", x, shape, strides, x.offset());
}

Tensor squeeze(const Tensor& x) {
  check_defined(x, "squeeze");
  Shape shape, strides;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (x.shape()[d] == 1) continue;
    shape.push_back(x.shape()[d]);
    strides.push_back(x.strides()[d]);
  }
  return reshaped_view("squeeze", x, shape, strides, x.offset());
}

Tensor unsqueeze(const Tensor& x, int64_t axis) {
  check_defined(x, "unsqueeze");
  const int64_t a = normalize_axis(axis, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape(), strides = x.strides();
  const int64_t stride = a < x.dim() ? x.shape()[a] * x.strides()[a] : 1;
  shape.insert(shape.begin() + a, 1);
  strides.insert(strides.begin() + a, stride);
  return reshaped_view("unsqueeze", x, shape, strides, x.offset());
}

Tensor contiguous(const Tensor& x) {
  check_defined(x, "contiguous");
  if (x.is_contiguous()) return x;
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (out.numel() > 0) copy_stub.get(x.device())(x, out);
  autograd::record("contiguous", {x}, out,
                   [](const Tensor& g, const BackwardContext&) { return std::vector<Tensor>{g}; });
  return out;
}

// ---------------------------------------------------------------------------- joins

Tensor cat(const std::vector<Tensor>& tensors, int64_t axis) {
  KITE_CHECK(!tensors.empty(), "cat: expected at least one tensor");
  check_has_axes(tensors[0], "cat");
  const int64_t a = normalize_axis(axis, tensors[0].dim(), "cat");
  check_joinable("cat", tensors, a);
  Shape shape = tensors[0].shape();
  std::vector<int64_t> sizes;
  shape[a] = 0;
  for (const Tensor& t : tensors) {
    sizes.push_back(t.shape()[a]);
    shape[a] += t.shape()[a];
  }
  Tensor out = Tensor::empty(shape, tensors[0].dtype(), tensors[0].device());
  int64_t offset = 0;
  for (const Tensor& t : tensors) {
    if (t.numel() > 0) {
      Tensor region = out.as_strided(t.shape(), out.strides(), offset * out.strides()[a]);
      copy_stub.get(out.device())(t, region);
    }
    offset += t.shape()[a];
  }
  autograd::record("cat", tensors, out, [a, sizes](const Tensor& g, const BackwardContext& ctx) {
    std::vector<Tensor> grads;
    int64_t start = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      grads.push_back(ctx.needs_grad(i) ? narrow(g, a, start, sizes[i]) : Tensor());
      start += sizes[i];
    }
    return grads;
  });
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t axis) {
  check_joinable("stack", tensors, -1);
  const int64_t a = normalize_axis(axis, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (const Tensor& t : tensors) parts.push_back(unsqueeze(t, a));
  return cat(parts, a);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t axis) {
  check_has_axes(x, "split");
  KITE_CHECK(split_size > 0, "split: split_size must be positive, got " << split_size);
  const int64_t a = normalize_axis(axis, x.dim(), "split");
  const int64_t size = x.shape()[a];
  if (size == 0) return {narrow(x, a, 0, 0)};
  std::vector<Tensor> pieces;
  for (int64_t start = 0; start < size; start += split_size)
    pieces.push_back(narrow(x, a, start, std::min(split_size, size - start)));
  return pieces;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t axis) {
  check_has_axes(x, "chunk");
  KITE_CHECK(chunks > 0, "chunk: the number of chunks must be positive, got " << chunks);
  const int64_t size = x.shape()[normalize_axis(axis, x.dim(), "chunk")];
  // Like torch.chunk: equal pieces of ceil(size / chunks), the last one smaller (and possibly
  // fewer than `chunks` pieces).
  return split(x, std::max<int64_t>(1, (size + chunks - 1) / chunks), axis);
}

// ---------------------------------------------------------------------------- indexing

Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index) {
  check_has_axes(x, "index_select");
  check_defined(index, "index_select");
  KITE_CHECK(index.dim() == 1, "index_select: index must be 1-D, got " << describe(index));
  const int64_t a = normalize_axis(axis, x.dim(), "index_select");
  Tensor idx = checked_index("index_select", index, x, a, x.shape()[a]);
  Shape shape = x.shape();
  shape[a] = idx.numel();
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  index_select_stub.get(x.device())(x, a, idx, out);
  autograd::record("index_select", {x}, out,
                   [in_shape = x.shape(), a, idx](const Tensor& g, const BackwardContext&) {
                     return std::vector<Tensor>{index_add(in_shape, a, idx, g)};
                   });
  return out;
}

Tensor index_add(const Shape& shape, int64_t axis, const Tensor& index, const Tensor& src) {
  check_has_axes(src, "index_add");
  check_defined(index, "index_add");
  KITE_CHECK(index.dim() == 1, "index_add: index must be 1-D, got " << describe(index));
  const int64_t a = normalize_axis(axis, static_cast<int64_t>(shape.size()), "index_add");
  bool match = src.dim() == static_cast<int64_t>(shape.size()) && src.shape()[a] == index.numel();
  for (int64_t d = 0; match && d < src.dim(); ++d)
    if (d != a && src.shape()[d] != shape[d]) match = false;
  KITE_CHECK(match, "index_add: source " << describe(src) << " does not fit output "
                                         << shape_str(shape) << " with " << index.numel()
                                         << " indices along axis " << a);
  Tensor idx = checked_index("index_add", index, src, a, shape[a]);
  Tensor out = zeros_on(shape, src);
  index_add_stub.get(src.device())(src, a, idx, out);
  autograd::record("index_add", {src}, out, [a, idx](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{index_select(g, a, idx)};
  });
  return out;
}

Tensor gather(const Tensor& x, int64_t axis, const Tensor& index) {
  check_defined(x, "gather");
  check_defined(index, "gather");
  if (x.dim() == 0) {
    normalize_axis(axis, 0, "gather");
    KITE_CHECK(index.dim() == 0,
               "gather: index " << describe(index) << " must be 0-d like " << describe(x));
    return reshape(gather(reshape(x, {1}), 0, reshape(index, {1})), {});
  }
  const int64_t a = normalize_axis(axis, x.dim(), "gather");
  bool fits = index.dim() == x.dim();
  for (int64_t d = 0; fits && d < x.dim(); ++d)
    if (d != a && index.shape()[d] > x.shape()[d]) fits = false;
  KITE_CHECK(fits, "gather: index " << describe(index) << " does not fit " << describe(x)
                                    << " (same rank, sizes no larger outside axis " << a << ")");
  Tensor idx = checked_index("gather", index, x, a, x.shape()[a]);
  Tensor out = Tensor::empty(idx.shape(), x.dtype(), x.device());
  gather_stub.get(x.device())(x, a, idx, out);
  autograd::record("gather", {x}, out,
                   [in_shape = x.shape(), a, idx](const Tensor& g, const BackwardContext&) {
                     return std::vector<Tensor>{scatter_add(in_shape, a, idx, g)};
                   });
  return out;
}

Tensor scatter_add(const Shape& shape, int64_t axis, const Tensor& index, const Tensor& src) {
  check_defined(src, "scatter_add");
  check_defined(index, "scatter_add");
  if (shape.empty()) {
    normalize_axis(axis, 0, "scatter_add");
    KITE_CHECK(index.dim() == 0 && src.dim() == 0,
               "scatter_add: index " << describe(index) << " and source " << describe(src)
                                     << " must be 0-d for a 0-d output");
    return reshape(scatter_add({1}, 0, reshape(index, {1}), reshape(src, {1})), {});
  }
  const int64_t dim = static_cast<int64_t>(shape.size());
  const int64_t a = normalize_axis(axis, dim, "scatter_add");
  KITE_CHECK(src.shape() == index.shape(), "scatter_add: source " << describe(src) << " and index "
                                                                  << describe(index)
                                                                  << " must have the same shape");
  bool fits = index.dim() == dim;
  for (int64_t d = 0; fits && d < dim; ++d)
    if (d != a && index.shape()[d] > shape[d]) fits = false;
  KITE_CHECK(fits, "scatter_add: index " << describe(index) << " does not fit output "
                                         << shape_str(shape) << " (same rank, sizes no larger "
                                         << "outside axis " << a << ")");
  Tensor idx = checked_index("scatter_add", index, src, a, shape[a]);
  Tensor out = zeros_on(shape, src);
  scatter_add_stub.get(src.device())(src, a, idx, out);
  autograd::record("scatter_add", {src}, out, [a, idx](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{gather(g, a, idx)};
  });
  return out;
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value) {
  check_defined(x, "pad");
  const int64_t padded_axes = static_cast<int64_t>(pads.size()) / 2;
  KITE_CHECK(pads.size() % 2 == 0 && padded_axes <= x.dim(),
             "pad: expected an even number of pads, two per axis at most, got "
                 << pads.size() << " for " << describe(x));
  Shape shape = x.shape();
  // The part of x that survives (negative pads crop) and where it lands in the output.
  Shape kept = x.shape();
  int64_t src_offset = x.offset();
  Shape dst_starts(x.dim(), 0);
  for (int64_t p = 0; p < padded_axes; ++p) {
    const int64_t d = x.dim() - 1 - p;
    const int64_t before = pads[2 * p], after = pads[2 * p + 1];
    shape[d] = x.shape()[d] + before + after;
    KITE_CHECK(shape[d] >= 0, "pad: pads " << shape_str(pads) << " make axis " << d << " of "
                                           << describe(x) << " negative");
    kept[d] = std::max<int64_t>(
        0, x.shape()[d] - std::max<int64_t>(0, -before) - std::max<int64_t>(0, -after));
    src_offset += std::max<int64_t>(0, -before) * x.strides()[d];
    dst_starts[d] = std::max<int64_t>(0, before);
  }
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  if (out.numel() > 0) fill_stub.get(out.device())(out, value);
  if (numel_of(kept) > 0) {
    int64_t dst_offset = 0;
    for (int64_t d = 0; d < x.dim(); ++d) dst_offset += dst_starts[d] * out.strides()[d];
    Tensor src = x.as_strided(kept, x.strides(), src_offset);
    Tensor dst = out.as_strided(kept, out.strides(), dst_offset);
    copy_stub.get(out.device())(src, dst);
  }
  std::vector<int64_t> negated(pads.size());
  for (size_t i = 0; i < pads.size(); ++i) negated[i] = -pads[i];
  autograd::record("pad", {x}, out, [negated](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{pad(g, negated, 0.0)};
  });
  return out;
}

Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype) {
  check_defined(labels, "one_hot");
  KITE_CHECK(labels.dtype() == DType::Int64,
             "one_hot: labels must be int64, got " << describe(labels));
  KITE_CHECK(num_classes > 0, "one_hot: num_classes must be positive, got " << num_classes);
  KITE_CHECK(is_floating(dtype),
             "one_hot: dtype must be float32 or float64, got " << dtype_name(dtype));
  Shape shape = labels.shape(), ones_shape = labels.shape();
  shape.push_back(num_classes);
  ones_shape.push_back(1);
  Tensor index = reshape(contiguous(labels), ones_shape);
  if (index.device().is_cpu()) {
    const int64_t* values = index.data_ptr<int64_t>();
    for (int64_t i = 0; i < index.numel(); ++i)
      KITE_CHECK(
          values[i] >= 0 && values[i] < num_classes,
          "one_hot: label " << values[i] << " is out of range for " << num_classes << " classes");
  }
  return scatter_add(shape, -1, index, ones(ones_shape, dtype, labels.device()));
}

}  // namespace kite
