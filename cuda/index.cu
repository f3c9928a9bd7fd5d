// CUDA kernels of index_select, index_add, gather and scatter_add (ops/shape_kernels.h).
//
// Each iteration shape is split at `axis` into [outer, m, inner]. A strided operand's offset
// is outer_offset(o) + position_along_axis * axis_stride + inner_offset(j), where the outer
// and inner offsets come from StridedOffsets over the axes before and after `axis`.
// The two accumulating kernels give each thread one (o, j) pair and walk the axis serially in
// the CPU's order: two threads never write the same element (no atomics), and the sums are
// added in the same order as on the CPU, so they agree bit for bit.
#include "cuda/kernels.h"
#include "cuda/launch.cuh"
#include "cuda/strided.cuh"
#include "engine/dtype.h"

namespace kite::cuda {
namespace {

// How a tensor with `strides` is addressed along an iteration shape split at `axis`.
struct AxisOffsets {
  StridedOffsets<1> outer, inner;
  int64_t axis_stride = 0;

  __device__ __forceinline__ int64_t at(int64_t o, int64_t position, int64_t j) const {
    int64_t outer_offset[1], inner_offset[1];
    outer.get(o, outer_offset);
    inner.get(j, inner_offset);
    return outer_offset[0] + position * axis_stride + inner_offset[0];
  }
};

AxisOffsets axis_offsets(const Shape& iteration, int64_t axis, const Shape& strides,
                         const char* op) {
  const auto before = [&](const Shape& s) { return Shape(s.begin(), s.begin() + axis); };
  const auto after = [&](const Shape& s) { return Shape(s.begin() + axis + 1, s.end()); };
  AxisOffsets result;
  result.outer = make_strided_offsets<1>(before(iteration), {before(strides)}, op);
  result.inner = make_strided_offsets<1>(after(iteration), {after(strides)}, op);
  result.axis_stride = strides[axis];
  return result;
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

// out[o, i, j] = x[o, index[i], j]; a thread per output element.
template <class T>
__global__ void index_select_impl(const T* x, AxisOffsets xl, const int64_t* index, Split s,
                                  T* out) {
  const int64_t total = s.outer * s.m * s.inner;
  for (int64_t e = first_index(); e < total; e += grid_stride()) {
    const int64_t j = e % s.inner, i = (e / s.inner) % s.m, o = e / (s.inner * s.m);
    out[e] = x[xl.at(o, index[i], j)];
  }
}

// out[o, index[i], j] += src[o, i, j]; a thread per (o, j), i in order. out: contiguous
// with n = out.shape[axis].
template <class T>
__global__ void index_add_impl(const T* src, AxisOffsets sl, const int64_t* index, Split s,
                               int64_t n, T* out) {
  for (int64_t t = first_index(); t < s.outer * s.inner; t += grid_stride()) {
    const int64_t o = t / s.inner, j = t % s.inner;
    for (int64_t i = 0; i < s.m; ++i) out[(o * n + index[i]) * s.inner + j] += src[sl.at(o, i, j)];
  }
}

// out[o, i, j] = x[o, index[o, i, j], j]; a thread per output element (index's shape).
template <class T>
__global__ void gather_impl(const T* x, AxisOffsets xl, const int64_t* index, Split s, T* out) {
  const int64_t total = s.outer * s.m * s.inner;
  for (int64_t e = first_index(); e < total; e += grid_stride()) {
    const int64_t j = e % s.inner, o = e / (s.inner * s.m);
    out[e] = x[xl.at(o, index[e], j)];
  }
}

// out[o, index[o, i, j], j] += src[o, i, j]; a thread per (o, j), i in order.
template <class T>
__global__ void scatter_add_impl(const T* src, AxisOffsets sl, const int64_t* index, Split s,
                                 AxisOffsets ol, T* out) {
  for (int64_t t = first_index(); t < s.outer * s.inner; t += grid_stride()) {
    const int64_t o = t / s.inner, j = t % s.inner;
    for (int64_t i = 0; i < s.m; ++i) {
      const int64_t e = (o * s.m + i) * s.inner + j;
      out[ol.at(o, index[e], j)] += src[sl.at(o, i, j)];
    }
  }
}

}  // namespace

void index_select_kernel(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& out) {
  if (out.numel() == 0) return;
  DeviceGuard guard(out.device().index);
  const Split s = split_at(out.shape(), axis);
  const AxisOffsets xl = axis_offsets(out.shape(), axis, x.strides(), "index_select");
  visit_dtype(x.dtype(), "index_select", [&](auto tag) {
    using T = decltype(tag);
    index_select_impl<<<grid_for(out.numel()), kBlockSize, 0, current_stream()>>>(
        x.data_ptr<T>(), xl, index.data_ptr<int64_t>(), s, out.data_ptr<T>());
    KITE_CUDA_CHECK_LAUNCH();
  });
}

void index_add_kernel(const Tensor& src, int64_t axis, const Tensor& index, const Tensor& out) {
  if (src.numel() == 0) return;
  DeviceGuard guard(out.device().index);
  const Split s = split_at(src.shape(), axis);
  const AxisOffsets sl = axis_offsets(src.shape(), axis, src.strides(), "index_add");
  const int64_t n = out.shape()[axis];
  visit_dtype(src.dtype(), "index_add", [&](auto tag) {
    using T = decltype(tag);
    index_add_impl<<<grid_for(s.outer * s.inner), kBlockSize, 0, current_stream()>>>(
        src.data_ptr<T>(), sl, index.data_ptr<int64_t>(), s, n, out.data_ptr<T>());
    KITE_CUDA_CHECK_LAUNCH();
  });
}

void gather_kernel(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& out) {
  if (out.numel() == 0) return;
  DeviceGuard guard(out.device().index);
  const Split s = split_at(index.shape(), axis);
  const AxisOffsets xl = axis_offsets(index.shape(), axis, x.strides(), "gather");
  visit_dtype(x.dtype(), "gather", [&](auto tag) {
    using T = decltype(tag);
    gather_impl<<<grid_for(out.numel()), kBlockSize, 0, current_stream()>>>(
        x.data_ptr<T>(), xl, index.data_ptr<int64_t>(), s, out.data_ptr<T>());
    KITE_CUDA_CHECK_LAUNCH();
  });
}

void scatter_add_kernel(const Tensor& src, int64_t axis, const Tensor& index, const Tensor& out) {
  if (src.numel() == 0) return;
  DeviceGuard guard(out.device().index);
  const Split s = split_at(index.shape(), axis);
  const AxisOffsets sl = axis_offsets(index.shape(), axis, src.strides(), "scatter_add");
  const AxisOffsets ol = axis_offsets(index.shape(), axis, out.strides(), "scatter_add");
  visit_dtype(src.dtype(), "scatter_add", [&](auto tag) {
    using T = decltype(tag);
    scatter_add_impl<<<grid_for(s.outer * s.inner), kBlockSize, 0, current_stream()>>>(
        src.data_ptr<T>(), sl, index.data_ptr<int64_t>(), s, ol, out.data_ptr<T>());
    KITE_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace kite::cuda
