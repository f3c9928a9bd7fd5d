// CPU kernels of the factories: fill, strided copy with dtype conversion, random fills.
#include "ops/cpu/factory.h"

#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "ops/cpu/elementwise.h"

namespace kite::cpu {
namespace {

template <class T>
void fill_loop(const Tensor& dst, T value) {
  T* d = dst.data_ptr<T>();
  const int64_t n = dst.numel();
  if (dst.is_contiguous()) {
    parallel_range(n, n > kParallelThreshold, [&](int64_t begin, int64_t end) {
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) d[i] = value;
    });
    return;
  }
  const auto loop = make_strided_loop<1>(dst.shape(), {dst.strides()});
  for_each_row(loop, [&](const std::array<int64_t, 1>& at, int64_t count,
                         const std::array<int64_t, 1>& step) {
    T* row = d + at[0];
    for (int64_t i = 0; i < count; ++i) row[i * step[0]] = value;
  });
}

template <class S, class D>
void copy_loop(const Tensor& src, const Tensor& dst) {
  const S* s = src.data_ptr<S>();
  D* d = dst.data_ptr<D>();
  const int64_t n = dst.numel();
  if (src.is_contiguous() && dst.is_contiguous()) {
    parallel_range(n, n > kParallelThreshold, [&](int64_t begin, int64_t end) {
#pragma omp simd
      for (int64_t i = begin; i < end; ++i) d[i] = static_cast<D>(s[i]);
    });
    return;
  }
  if (is_broadcast_scalar(src)) {
    fill_loop<D>(dst, static_cast<D>(*s));
    return;
  }
  const auto loop = make_strided_loop<2>(dst.shape(), {dst.strides(), src.strides()});
  for_each_row(loop, [&](const std::array<int64_t, 2>& at, int64_t count,
                         const std::array<int64_t, 2>& step) {
    D* rd = d + at[0];
    const S* rs = s + at[1];
    if (step[0] == 1 && step[1] == 1) {
#pragma omp simd
      for (int64_t i = 0; i < count; ++i) rd[i] = static_cast<D>(rs[i]);
    } else {
      for (int64_t i = 0; i < count; ++i) rd[i * step[0]] = static_cast<D>(rs[i * step[1]]);
    }
  });
}

}  // namespace

void fill_kernel(const Tensor& dst, double value) {
  visit_dtype(dst.dtype(), "fill kernel", [&](auto tag) {
    using T = decltype(tag);
    fill_loop<T>(dst, static_cast<T>(value));
  });
}

void copy_kernel(const Tensor& src, const Tensor& dst) {
  visit_dtype(src.dtype(), "copy kernel", [&](auto src_tag) {
    visit_dtype(dst.dtype(), "copy kernel",
                [&](auto dst_tag) { copy_loop<decltype(src_tag), decltype(dst_tag)>(src, dst); });
  });
}

void random_kernel(const RandomParams& params, Generator& generator, const Tensor& out) {
  KITE_CHECK(out.is_contiguous(),
             "random kernel: output must be contiguous, got " << describe(out));
  visit_floating(out.dtype(), "random kernel", [&](auto tag) {
    using T = decltype(tag);
    T* data = out.data_ptr<T>();
    const int64_t n = out.numel();
    switch (params.kind) {
      case RandomKind::Uniform:
        generator.fill_uniform(data, n, static_cast<T>(params.a), static_cast<T>(params.b));
        return;
      case RandomKind::Normal:
        generator.fill_normal(data, n, static_cast<T>(params.a), static_cast<T>(params.b));
        return;
      case RandomKind::Bernoulli:
        generator.fill_bernoulli(data, n, params.a);
        return;
    }
  });
}

}  // namespace kite::cpu
