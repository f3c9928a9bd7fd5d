// CUDA resampling kernels around the coordinate math of ops/math/upsample.h.
//
// Forward: a thread per output element, computing its taps with the CPU's functions.
// Bilinear backward: a thread per input element, gathering from the outputs that read it
// (cuda/gather_math.cuh).
#include "cuda/gather_math.cuh"
#include "cuda/kernels.h"
#include "cuda/launch.cuh"
#include "engine/dtype.h"
#include "ops/math/upsample.h"

namespace kite::cuda {
namespace {

using math::LinearTaps;
using math::ResampleGeometry;

template <class T>
__global__ void nearest_kernel(const T* x, ResampleGeometry g, T* y) {
  const int64_t total = g.planes() * g.out_plane();
  for (int64_t o = first_index(); o < total; o += grid_stride()) {
    const int64_t plane = o / g.out_plane(), at = o % g.out_plane();
    const int64_t ih = math::nearest_source(at / g.out_w, g.in_h, g.out_h);
    const int64_t iw = math::nearest_source(at % g.out_w, g.in_w, g.out_w);
    y[o] = x[plane * g.in_plane() + ih * g.in_w + iw];
  }
}

template <class T>
__global__ void bilinear_kernel(const T* x, ResampleGeometry g, T scale_h, T scale_w, T* y) {
  const int64_t total = g.planes() * g.out_plane();
  for (int64_t o = first_index(); o < total; o += grid_stride()) {
    const int64_t plane = o / g.out_plane(), at = o % g.out_plane();
    const LinearTaps<T> h = math::linear_taps<T>(at / g.out_w, g.in_h, scale_h, g.align_corners);
    const LinearTaps<T> w = math::linear_taps<T>(at % g.out_w, g.in_w, scale_w, g.align_corners);
    const T* r0 = x + plane * g.in_plane() + h.i0 * g.in_w;
    const T* r1 = x + plane * g.in_plane() + h.i1 * g.in_w;
    y[o] = h.w0 * (w.w0 * r0[w.i0] + w.w1 * r0[w.i1]) + h.w1 * (w.w0 * r1[w.i0] + w.w1 * r1[w.i1]);
  }
}

template <class T>
__global__ void bilinear_backward_kernel(const T* dy, ResampleGeometry g, T scale_h, T scale_w,
                                         T* dx) {
  const int64_t total = g.planes() * g.in_plane();
  for (int64_t e = first_index(); e < total; e += grid_stride()) {
    const int64_t plane = e / g.in_plane(), at = e % g.in_plane();
    dx[e] = bilinear_input_grad(dy + plane * g.out_plane(), g, scale_h, scale_w, at / g.in_w,
                                at % g.in_w);
  }
}

}  // namespace

void upsample_nearest2d_kernel(const Tensor& input, const ResampleGeometry& geometry,
                               const Tensor& output) {
  if (output.numel() == 0) return;
  DeviceGuard guard(output.device().index);
  visit_floating(input.dtype(), "upsample_nearest2d", [&](auto tag) {
    using T = decltype(tag);
    nearest_kernel<<<grid_for(output.numel()), kBlockSize, 0, current_stream()>>>(
        input.data_ptr<T>(), geometry, output.data_ptr<T>());
    KITE_CUDA_CHECK_LAUNCH();
  });
}

void upsample_bilinear2d_kernel(const Tensor& input, const ResampleGeometry& geometry,
                                const Tensor& output) {
  if (output.numel() == 0) return;
  DeviceGuard guard(output.device().index);
  visit_floating(input.dtype(), "upsample_bilinear2d", [&](auto tag) {
    using T = decltype(tag);
    const ResampleGeometry& g = geometry;
    bilinear_kernel<<<grid_for(output.numel()), kBlockSize, 0, current_stream()>>>(
        input.data_ptr<T>(), g, math::linear_scale<T>(g.in_h, g.out_h, g.align_corners),
        math::linear_scale<T>(g.in_w, g.out_w, g.align_corners), output.data_ptr<T>());
    KITE_CUDA_CHECK_LAUNCH();
  });
}

void upsample_bilinear2d_backward_kernel(const Tensor& grad_output,
                                         const ResampleGeometry& geometry,
                                         const Tensor& grad_input) {
  if (grad_input.numel() == 0) return;
  DeviceGuard guard(grad_input.device().index);
  visit_floating(grad_output.dtype(), "upsample_bilinear2d_backward", [&](auto tag) {
    using T = decltype(tag);
    const ResampleGeometry& g = geometry;
    bilinear_backward_kernel<<<grid_for(grad_input.numel()), kBlockSize, 0, current_stream()>>>(
        grad_output.data_ptr<T>(), g, math::linear_scale<T>(g.in_h, g.out_h, g.align_corners),
        math::linear_scale<T>(g.in_w, g.out_w, g.align_corners), grad_input.data_ptr<T>());
    KITE_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace kite::cuda
