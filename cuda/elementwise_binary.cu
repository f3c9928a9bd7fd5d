// CUDA kernels of the binary elementwise ops and where: the functors of
// ops/math/elementwise.h through the generic launcher. Inputs arrive already broadcast to
// the output's shape (stride-0 axes), so the strided path handles broadcasting.
#include "cuda/elementwise.cuh"
#include "cuda/kernels.h"
#include "engine/dtype.h"

namespace kite::cuda {
namespace {

template <class T, class F>
struct BinaryBody {
  F f;
  const T* a;
  const T* b;
  T* out;
  __device__ void contiguous(int64_t i) const { out[i] = f(a[i], b[i]); }
  __device__ void strided(const int64_t (&at)[3]) const { out[at[0]] = f(a[at[1]], b[at[2]]); }
};

template <class T, class C>
struct WhereBody {
  const C* cond;
  const T* a;
  const T* b;
  T* out;
  __device__ void contiguous(int64_t i) const { out[i] = where_value(cond[i], a[i], b[i]); }
  __device__ void strided(const int64_t (&at)[4]) const {
    out[at[0]] = where_value(cond[at[1]], a[at[2]], b[at[3]]);
  }
};

template <class T, class F>
void launch_binary(const F& f, const Tensor& a, const Tensor& b, const Tensor& out) {
  launch_elementwise<3>("binary kernel",
                        BinaryBody<T, F>{f, a.data_ptr<T>(), b.data_ptr<T>(), out.data_ptr<T>()},
                        out.shape(), {&out, &a, &b});
}

}  // namespace

void binary_kernel(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  DeviceGuard guard(out.device().index);
  if (is_comparison(op)) {
    visit_dtype(out.dtype(), "binary kernel", [&](auto tag) {
      using T = decltype(tag);
      visit_comparison_op<T>(op, [&](const auto& f) { launch_binary<T>(f, a, b, out); });
    });
    return;
  }
  visit_floating(out.dtype(), "binary kernel", [&](auto tag) {
    using T = decltype(tag);
    visit_binary_op<T>(op, [&](const auto& f) { launch_binary<T>(f, a, b, out); });
  });
}

void where_kernel(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  DeviceGuard guard(out.device().index);
  visit_floating(out.dtype(), "where kernel", [&](auto tag) {
    using T = decltype(tag);
    visit_dtype(cond.dtype(), "where kernel", [&](auto cond_tag) {
      using C = decltype(cond_tag);
      launch_elementwise<4>(
          "where kernel",
          WhereBody<T, C>{cond.data_ptr<C>(), a.data_ptr<T>(), b.data_ptr<T>(), out.data_ptr<T>()},
          out.shape(), {&out, &cond, &a, &b});
    });
  });
}

}  // namespace kite::cuda
