// CPU kernels of the elementwise ops: unary, binary and where (see ops/cpu/elementwise.h).
#include "ops/cpu/elementwise.h"

#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/parallel.h"

namespace kite::cpu {
namespace {

// ---- Unary ----

template <class T, class F>
void unary_loop(const F& f, const Tensor& x, const Tensor& out) {
  T* o = out.data_ptr<T>();
  const T* in = x.data_ptr<T>();
  const int64_t n = out.numel();
  if (x.is_contiguous()) {
    // A private copy of the functor: read through the shared reference, its parameters
    // (a slope, a bound) may alias the output as far as GCC knows, and the loop stays scalar.
    parallel_range(n, n > kParallelThreshold, [&](int64_t begin, int64_t end) {
      const F local = f;
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) o[i] = local(in[i]);
    });
    return;
  }
  const auto loop = make_strided_loop<2>(out.shape(), {out.strides(), x.strides()});
  for_each_row(loop, [&](const std::array<int64_t, 2>& at, int64_t count,
                         const std::array<int64_t, 2>& step) {
    T* po = o + at[0];
    const T* px = in + at[1];
    const int64_t sx = step[1];
    // out is contiguous, so its step along a row is 1.
    for (int64_t i = 0; i < count; ++i) po[i] = f(px[i * sx]);
  });
}

// ---- Binary ----

template <class T, class F>
void binary_loop(const F& f, const Tensor& a, const Tensor& b, const Tensor& out) {
  T* o = out.data_ptr<T>();
  const T* pa = a.data_ptr<T>();
  const T* pb = b.data_ptr<T>();
  const int64_t n = out.numel();
  if (a.is_contiguous() && b.is_contiguous()) {
    parallel_range(n, n > kParallelThreshold, [&](int64_t begin, int64_t end) {
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) o[i] = f(pa[i], pb[i]);
    });
    return;
  }
  if (a.is_contiguous() && is_broadcast_scalar(b)) {
    const T vb = *pb;
    parallel_range(n, n > kParallelThreshold, [&](int64_t begin, int64_t end) {
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) o[i] = f(pa[i], vb);
    });
    return;
  }
  if (is_broadcast_scalar(a) && b.is_contiguous()) {
    const T va = *pa;
    parallel_range(n, n > kParallelThreshold, [&](int64_t begin, int64_t end) {
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) o[i] = f(va, pb[i]);
    });
    return;
  }
  const auto loop = make_strided_loop<3>(out.shape(), {out.strides(), a.strides(), b.strides()});
  for_each_row(loop, [&](const std::array<int64_t, 3>& at, int64_t count,
                         const std::array<int64_t, 3>& step) {
    T* po = o + at[0];
    const T* ra = pa + at[1];
    const T* rb = pb + at[2];
    const int64_t sa = step[1], sb = step[2];
    // The common rows of broadcasting (bias rows, per-channel scalars) get loops with
    // unit or zero strides written out, which the compiler vectorises.
    if (sa == 1 && sb == 1) {
#pragma omp simd
      for (int64_t i = 0; i < count; ++i) po[i] = f(ra[i], rb[i]);
    } else if (sa == 1 && sb == 0) {
      const T vb = *rb;
#pragma omp simd
      for (int64_t i = 0; i < count; ++i) po[i] = f(ra[i], vb);
    } else if (sa == 0 && sb == 1) {
      const T va = *ra;
#pragma omp simd
      for (int64_t i = 0; i < count; ++i) po[i] = f(va, rb[i]);
    } else {
      for (int64_t i = 0; i < count; ++i) po[i] = f(ra[i * sa], rb[i * sb]);
    }
  });
}

// ---- Where ----

template <class T, class C>
void where_loop(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  T* o = out.data_ptr<T>();
  const C* pc = cond.data_ptr<C>();
  const T* pa = a.data_ptr<T>();
  const T* pb = b.data_ptr<T>();
  const int64_t n = out.numel();
  if (cond.is_contiguous() && a.is_contiguous() && b.is_contiguous()) {
    parallel_range(n, n > kParallelThreshold, [&](int64_t begin, int64_t end) {
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) o[i] = where_value(pc[i], pa[i], pb[i]);
    });
    return;
  }
  const auto loop =
      make_strided_loop<4>(out.shape(), {out.strides(), cond.strides(), a.strides(), b.strides()});
  for_each_row(loop, [&](const std::array<int64_t, 4>& at, int64_t count,
                         const std::array<int64_t, 4>& step) {
    T* po = o + at[0];
    const C* rc = pc + at[1];
    const T* ra = pa + at[2];
    const T* rb = pb + at[3];
    for (int64_t i = 0; i < count; ++i)
      po[i] = where_value(rc[i * step[1]], ra[i * step[2]], rb[i * step[3]]);
  });
}

}  // namespace

void unary_kernel(UnaryOp op, const UnaryParams& params, const Tensor& x, const Tensor& out) {
  visit_floating(out.dtype(), "unary kernel", [&](auto tag) {
    using T = decltype(tag);
    visit_unary_op<T>(op, params, [&](const auto& f) { unary_loop<T>(f, x, out); });
  });
}

void binary_kernel(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  if (is_comparison(op)) {
    visit_dtype(out.dtype(), "binary kernel", [&](auto tag) {
      using T = decltype(tag);
      visit_comparison_op<T>(op, [&](const auto& f) { binary_loop<T>(f, a, b, out); });
    });
    return;
  }
  visit_floating(out.dtype(), "binary kernel", [&](auto tag) {
    using T = decltype(tag);
    visit_binary_op<T>(op, [&](const auto& f) { binary_loop<T>(f, a, b, out); });
  });
}

void where_kernel(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  visit_floating(out.dtype(), "where kernel", [&](auto tag) {
    using T = decltype(tag);
    visit_dtype(cond.dtype(), "where kernel", [&](auto cond_tag) {
      using C = decltype(cond_tag);
      where_loop<T, C>(cond, a, b, out);
    });
  });
}

}  // namespace kite::cpu
