// CUDA pooling kernels around the window math of ops/math/pool.h.
//
// Forward kernels: a thread per output element. Average-pooling backward kernels: a thread per
// input element, gathering from the outputs whose window covers it (cuda/gather_math.cuh).
// Max-pooling backward: a thread per plane scattering at the saved indices, as on the CPU.
#include "cuda/gather_math.cuh"
#include "cuda/kernels.h"
#include "cuda/launch.cuh"
#include "engine/dtype.h"
#include "ops/math/pool.h"

namespace kite::cuda {
namespace {

using math::Pool2dGeometry;

template <class T>
__global__ void max_pool_kernel(const T* x, Pool2dGeometry g, T* y, int64_t* indices) {
  const int64_t total = g.planes() * g.out_plane();
  for (int64_t o = first_index(); o < total; o += grid_stride()) {
    const int64_t plane = o / g.out_plane(), at = o % g.out_plane();
    const math::MaxResult<T> best =
        math::max_pool_window(x + plane * g.in_plane(), g, at / g.out_w, at % g.out_w);
    y[o] = best.value;
    indices[o] = best.index;
  }
}

// grad_input[plane][indices[o]] += grad_output[o] for the outputs o of one plane, in order:
// a thread per plane runs the CPU's loop. The backward op knows only the sizes, not the
// windows (ops/pool.cpp), so the sources of an input element cannot be enumerated; a thread
// per plane keeps the sums free of write conflicts and in the CPU's order.
template <class T>
__global__ void max_pool_backward_kernel(const T* dy, const int64_t* indices, Pool2dGeometry g,
                                         T* dx) {
  for (int64_t plane = first_index(); plane < g.planes(); plane += grid_stride()) {
    T* grad_plane = dx + plane * g.in_plane();
    for (int64_t o = plane * g.out_plane(); o < (plane + 1) * g.out_plane(); ++o)
      grad_plane[indices[o]] += dy[o];
  }
}

template <class T>
__global__ void zero_kernel(T* out, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) out[i] = T(0);
}

template <class T>
__global__ void avg_pool_kernel(const T* x, Pool2dGeometry g, T* y) {
  const int64_t total = g.planes() * g.out_plane();
  for (int64_t o = first_index(); o < total; o += grid_stride()) {
    const int64_t plane = o / g.out_plane(), at = o % g.out_plane();
    const math::AvgWindow win = math::avg_pool_window(g, at / g.out_w, at % g.out_w);
    const T* p = x + plane * g.in_plane();
    T sum = T(0);
    for (int64_t ih = win.h0; ih < win.h1; ++ih)
      for (int64_t iw = win.w0; iw < win.w1; ++iw) sum += p[ih * g.in_w + iw];
    // An empty window (all padding) averages to 0, as on the CPU and in PyTorch.
    y[o] = win.h0 < win.h1 && win.w0 < win.w1 ? sum / T(win.divisor) : T(0);
  }
}

template <class T>
__global__ void avg_pool_backward_kernel(const T* dy, Pool2dGeometry g, T* dx) {
  const int64_t total = g.planes() * g.in_plane();
  for (int64_t e = first_index(); e < total; e += grid_stride()) {
    const int64_t plane = e / g.in_plane(), at = e % g.in_plane();
    dx[e] = avg_pool_input_grad(dy + plane * g.out_plane(), g, at / g.in_w, at % g.in_w);
  }
}

template <class T>
__global__ void adaptive_avg_pool_kernel(const T* x, Pool2dGeometry g, T* y) {
  const int64_t total = g.planes() * g.out_plane();
  for (int64_t o = first_index(); o < total; o += grid_stride()) {
    const int64_t plane = o / g.out_plane(), at = o % g.out_plane();
    const int64_t oh = at / g.out_w, ow = at % g.out_w;
    const int64_t h0 = math::adaptive_start(oh, g.out_h, g.in_h);
    const int64_t h1 = math::adaptive_end(oh, g.out_h, g.in_h);
    const int64_t w0 = math::adaptive_start(ow, g.out_w, g.in_w);
    const int64_t w1 = math::adaptive_end(ow, g.out_w, g.in_w);
    const T* p = x + plane * g.in_plane();
    T sum = T(0);
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) sum += p[ih * g.in_w + iw];
    y[o] = sum / T((h1 - h0) * (w1 - w0));
  }
}

template <class T>
__global__ void adaptive_avg_pool_backward_kernel(const T* dy, Pool2dGeometry g, T* dx) {
  const int64_t total = g.planes() * g.in_plane();
  for (int64_t e = first_index(); e < total; e += grid_stride()) {
    const int64_t plane = e / g.in_plane(), at = e % g.in_plane();
    dx[e] = adaptive_avg_pool_input_grad(dy + plane * g.out_plane(), g, at / g.in_w, at % g.in_w);
  }
}

}  // namespace

void max_pool2d_kernel(const Tensor& input, const Pool2dGeometry& geometry, const Tensor& output,
                       const Tensor& indices) {
  if (output.numel() == 0) return;
  DeviceGuard guard(output.device().index);
  visit_floating(input.dtype(), "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    max_pool_kernel<<<grid_for(output.numel()), kBlockSize, 0, current_stream()>>>(
        input.data_ptr<T>(), geometry, output.data_ptr<T>(), indices.data_ptr<int64_t>());
    KITE_CUDA_CHECK_LAUNCH();
  });
}

void max_pool2d_backward_kernel(const Tensor& grad_output, const Tensor& indices,
                                const Pool2dGeometry& geometry, const Tensor& grad_input) {
  if (grad_input.numel() == 0) return;
  DeviceGuard guard(grad_input.device().index);
  visit_floating(grad_output.dtype(), "max_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    const cudaStream_t stream = current_stream();
    zero_kernel<<<grid_for(grad_input.numel()), kBlockSize, 0, stream>>>(grad_input.data_ptr<T>(),
                                                                         grad_input.numel());
    KITE_CUDA_CHECK_LAUNCH();
    if (grad_output.numel() == 0) return;
    max_pool_backward_kernel<<<grid_for(geometry.planes()), kBlockSize, 0, stream>>>(
        grad_output.data_ptr<T>(), indices.data_ptr<int64_t>(), geometry, grad_input.data_ptr<T>());
    KITE_CUDA_CHECK_LAUNCH();
  });
}

void avg_pool2d_kernel(const Tensor& input, const Pool2dGeometry& geometry, const Tensor& output) {
  if (output.numel() == 0) return;
  DeviceGuard guard(output.device().index);
  visit_floating(input.dtype(), "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    avg_pool_kernel<<<grid_for(output.numel()), kBlockSize, 0, current_stream()>>>(
        input.data_ptr<T>(), geometry, output.data_ptr<T>());
    KITE_CUDA_CHECK_LAUNCH();
  });
}

void avg_pool2d_backward_kernel(const Tensor& grad_output, const Pool2dGeometry& geometry,
                                const Tensor& grad_input) {
  if (grad_input.numel() == 0) return;
  DeviceGuard guard(grad_input.device().index);
  visit_floating(grad_output.dtype(), "avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    avg_pool_backward_kernel<<<grid_for(grad_input.numel()), kBlockSize, 0, current_stream()>>>(
        grad_output.data_ptr<T>(), geometry, grad_input.data_ptr<T>());
    KITE_CUDA_CHECK_LAUNCH();
  });
}

void adaptive_avg_pool2d_kernel(const Tensor& input, const Pool2dGeometry& geometry,
                                const Tensor& output) {
  if (output.numel() == 0) return;
  DeviceGuard guard(output.device().index);
  visit_floating(input.dtype(), "adaptive_avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    adaptive_avg_pool_kernel<<<grid_for(output.numel()), kBlockSize, 0, current_stream()>>>(
        input.data_ptr<T>(), geometry, output.data_ptr<T>());
    KITE_CUDA_CHECK_LAUNCH();
  });
}

void adaptive_avg_pool2d_backward_kernel(const Tensor& grad_output, const Pool2dGeometry& geometry,
                                         const Tensor& grad_input) {
  if (grad_input.numel() == 0) return;
  DeviceGuard guard(grad_input.device().index);
  visit_floating(grad_output.dtype(), "adaptive_avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    adaptive_avg_pool_backward_kernel<<<grid_for(grad_input.numel()), kBlockSize, 0,
                                        current_stream()>>>(grad_output.data_ptr<T>(), geometry,
                                                            grad_input.data_ptr<T>());
    KITE_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace kite::cuda
