// CPU kernels of index_select, index_add, gather and scatter_add.
//
// All four walk an iteration shape split at `axis` into [outer, m, inner]. A strided operand
// is addressed through two small offset tables (one entry per outer position, one per inner
// position), so any layout works without a copy and the inner loop is a plain indexed loop.
// Work units are (outer position, block of inner positions): two different units never write
// the same output element, even for the accumulating kernels (collisions only happen along
// `axis`, which a unit walks serially), so units run in parallel without atomics.
#include "ops/cpu/shape.h"

#include <algorithm>
#include <vector>

#include "engine/parallel.h"

namespace kite::cpu {
namespace {

constexpr int64_t kParallelThreshold = 32768;  // elements
constexpr int64_t kInnerBlock = 512;

// Offsets (in elements) of every row-major position of sizes[begin, end) under `strides`.
std::vector<int64_t> position_offsets(const Shape& sizes, const Shape& strides, int64_t begin,
                                      int64_t end) {
  std::vector<int64_t> offsets{0};
  for (int64_t d = begin; d < end; ++d) {
    std::vector<int64_t> next;
    next.reserve(offsets.size() * sizes[d]);
    for (int64_t base : offsets)
      for (int64_t i = 0; i < sizes[d]; ++i) next.push_back(base + i * strides[d]);
    offsets = std::move(next);
  }
  return offsets;
}

// How a tensor with `strides` is addressed along an iteration shape split at `axis`.
struct AxisLayout {
  std::vector<int64_t> outer, inner;
  int64_t axis_stride;
  bool inner_contiguous;  // inner[j] == j: the inner loop can index directly
};

AxisLayout axis_layout(const Shape& iteration, int64_t axis, const Shape& strides) {
  AxisLayout layout;
  const int64_t dim = static_cast<int64_t>(iteration.size());
  layout.outer = position_offsets(iteration, strides, 0, axis);
  layout.inner = position_offsets(iteration, strides, axis + 1, dim);
  layout.axis_stride = strides[axis];
  layout.inner_contiguous = true;
  for (size_t j = 0; j < layout.inner.size(); ++j)
    if (layout.inner[j] != static_cast<int64_t>(j)) layout.inner_contiguous = false;
  return layout;
}

struct Split {
  int64_t outer = 1, m = 1, inner = 1;
};
Split split_at(const Shape& shape, int64_t axis) {
  Split s;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d)
    (d < axis ? s.outer : d == axis ? s.m : s.inner) *= shape[d];
  return s;
}

// Calls body(o, j0, j1) for every unit; in parallel when the work is large.
template <class Body>
void for_each_unit(const Split& s, Body body) {
  const int64_t blocks = (s.inner + kInnerBlock - 1) / kInnerBlock;
  const int64_t units = s.outer * blocks;
  const bool parallel = s.outer * s.m * s.inner > kParallelThreshold && units > 1;
  parallel_range(units, parallel, [&](int64_t begin, int64_t end) {
    for (int64_t u = begin; u < end; ++u) {
      const int64_t o = u / blocks, j0 = (u % blocks) * kInnerBlock;
      body(o, j0, std::min(s.inner, j0 + kInnerBlock));
    }
  });
}

}  // namespace

void index_select_kernel(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& out) {
  if (out.numel() == 0) return;
  const Split s = split_at(out.shape(), axis);
  const AxisLayout xl = axis_layout(out.shape(), axis, x.strides());
  const int64_t* idx = index.data_ptr<int64_t>();
  visit_dtype(x.dtype(), "index_select", [&](auto tag) {
    using T = decltype(tag);
    const T* src = x.data_ptr<T>();
    T* dst = out.data_ptr<T>();
    for_each_unit(s, [&](int64_t o, int64_t j0, int64_t j1) {
      for (int64_t i = 0; i < s.m; ++i) {
        const T* from = src + xl.outer[o] + idx[i] * xl.axis_stride;
        T* to = dst + (o * s.m + i) * s.inner;
        if (xl.inner_contiguous)
          for (int64_t j = j0; j < j1; ++j) to[j] = from[j];
        else
          for (int64_t j = j0; j < j1; ++j) to[j] = from[xl.inner[j]];
      }
    });
  });
}

void index_add_kernel(const Tensor& src, int64_t axis, const Tensor& index, const Tensor& out) {
  if (src.numel() == 0) return;
  const Split s = split_at(src.shape(), axis);
  const int64_t n = out.shape()[axis];
  const AxisLayout sl = axis_layout(src.shape(), axis, src.strides());
  const int64_t* idx = index.data_ptr<int64_t>();
  visit_dtype(src.dtype(), "index_add", [&](auto tag) {
    using T = decltype(tag);
    const T* from_base = src.data_ptr<T>();
    T* dst = out.data_ptr<T>();
    for_each_unit(s, [&](int64_t o, int64_t j0, int64_t j1) {
      for (int64_t i = 0; i < s.m; ++i) {
        const T* from = from_base + sl.outer[o] + i * sl.axis_stride;
        T* to = dst + (o * n + idx[i]) * s.inner;
        if (sl.inner_contiguous)
          for (int64_t j = j0; j < j1; ++j) to[j] += from[j];
        else
          for (int64_t j = j0; j < j1; ++j) to[j] += from[sl.inner[j]];
      }
    });
  });
}

void gather_kernel(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& out) {
  if (out.numel() == 0) return;
  const Split s = split_at(index.shape(), axis);
  const AxisLayout xl = axis_layout(index.shape(), axis, x.strides());
  const int64_t* idx = index.data_ptr<int64_t>();
  visit_dtype(x.dtype(), "gather", [&](auto tag) {
    using T = decltype(tag);
    const T* src = x.data_ptr<T>();
    T* dst = out.data_ptr<T>();
    for_each_unit(s, [&](int64_t o, int64_t j0, int64_t j1) {
      for (int64_t i = 0; i < s.m; ++i) {
        const int64_t row = (o * s.m + i) * s.inner;
        const T* from = src + xl.outer[o];
        for (int64_t j = j0; j < j1; ++j)
          dst[row + j] = from[idx[row + j] * xl.axis_stride + xl.inner[j]];
      }
    });
  });
}

void scatter_add_kernel(const Tensor& src, int64_t axis, const Tensor& index, const Tensor& out) {
  if (src.numel() == 0) return;
  const Split s = split_at(index.shape(), axis);
  const AxisLayout sl = axis_layout(index.shape(), axis, src.strides());
  const AxisLayout ol = axis_layout(index.shape(), axis, out.strides());
  const int64_t* idx = index.data_ptr<int64_t>();
  visit_dtype(src.dtype(), "scatter_add", [&](auto tag) {
    using T = decltype(tag);
    const T* from_base = src.data_ptr<T>();
    T* dst = out.data_ptr<T>();
    for_each_unit(s, [&](int64_t o, int64_t j0, int64_t j1) {
      for (int64_t i = 0; i < s.m; ++i) {
        const int64_t row = (o * s.m + i) * s.inner;
        const T* from = from_base + sl.outer[o] + i * sl.axis_stride;
        T* to = dst + ol.outer[o];
        for (int64_t j = j0; j < j1; ++j)
          to[idx[row + j] * ol.axis_stride + ol.inner[j]] += from[sl.inner[j]];
      }
    });
  });
}

}  // namespace kite::cpu
