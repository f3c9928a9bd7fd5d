// CUDA kernel of the unary elementwise ops and activations: the functors of
// ops/math/elementwise.h and ops/math/activations.h through the generic launcher.
#include "cuda/elementwise.cuh"
#include "cuda/kernels.h"
#include "engine/dtype.h"

namespace kite::cuda {
namespace {

template <class T, class F>
struct UnaryBody {
  F f;
  const T* x;
  T* out;
  __device__ void contiguous(int64_t i) const { out[i] = f(x[i]); }
  __device__ void strided(const int64_t (&at)[2]) const { out[at[0]] = f(x[at[1]]); }
};

}  // namespace

void unary_kernel(UnaryOp op, const UnaryParams& params, const Tensor& x, const Tensor& out) {
  DeviceGuard guard(out.device().index);
  visit_floating(out.dtype(), "unary kernel", [&](auto tag) {
    using T = decltype(tag);
    visit_unary_op<T>(op, params, [&](const auto& f) {
      using F = std::decay_t<decltype(f)>;
      launch_elementwise<2>("unary kernel", UnaryBody<T, F>{f, x.data_ptr<T>(), out.data_ptr<T>()},
                            out.shape(), {&out, &x});
    });
  });
}

}  // namespace kite::cuda
