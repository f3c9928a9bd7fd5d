// CUDA kernels of fill and copy (any strides, any of the four dtypes, with conversion)
// through the generic elementwise launcher.
#include "cuda/elementwise.cuh"
#include "cuda/kernels.h"
#include "engine/dtype.h"

namespace kite::cuda {
namespace {

template <class T>
struct FillBody {
  T value;
  T* dst;
  __device__ void contiguous(int64_t i) const { dst[i] = value; }
  __device__ void strided(const int64_t (&at)[1]) const { dst[at[0]] = value; }
};

template <class S, class D>
struct CopyBody {
  const S* src;
  D* dst;
  __device__ void contiguous(int64_t i) const { dst[i] = static_cast<D>(src[i]); }
  __device__ void strided(const int64_t (&at)[2]) const { dst[at[0]] = static_cast<D>(src[at[1]]); }
};

}  // namespace

void fill_kernel(const Tensor& dst, double value) {
  DeviceGuard guard(dst.device().index);
  visit_dtype(dst.dtype(), "fill kernel", [&](auto tag) {
    using T = decltype(tag);
    launch_elementwise<1>("fill kernel", FillBody<T>{static_cast<T>(value), dst.data_ptr<T>()},
                          dst.shape(), {&dst});
  });
}

void copy_kernel(const Tensor& src, const Tensor& dst) {
  DeviceGuard guard(dst.device().index);
  visit_dtype(src.dtype(), "copy kernel", [&](auto src_tag) {
    using S = decltype(src_tag);
    visit_dtype(dst.dtype(), "copy kernel", [&](auto dst_tag) {
      using D = decltype(dst_tag);
      launch_elementwise<2>("copy kernel", CopyBody<S, D>{src.data_ptr<S>(), dst.data_ptr<D>()},
                            dst.shape(), {&dst, &src});
    });
  });
}

}  // namespace kite::cuda
