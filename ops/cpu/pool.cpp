// CPU pooling kernels: loops over planes around the window math of ops/math/pool.h.
//
// Backward kernels scatter into the input gradient plane by plane; a plane belongs to one
// thread, so the scatter needs no atomics.
#include "ops/cpu/pool.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/dtype.h"
#include "engine/parallel.h"

namespace kite::cpu {
namespace {

using math::Pool2dGeometry;

// Below this many elements touched, a parallel region costs more than it saves.
constexpr int64_t kParallelMinWork = 32768;

bool parallel_worth_it(const Pool2dGeometry& g, int64_t window) {
  return g.planes() * (g.in_plane() + g.out_plane() * window) >= kParallelMinWork;
}

// The windows depend only on the output row or column: their taps are computed once per call.
struct PoolTaps {
  std::vector<math::MaxTaps> rows, cols;
};
PoolTaps max_taps(const Pool2dGeometry& g) {
  PoolTaps t;
  for (int64_t o = 0; o < g.out_h; ++o)
    t.rows.push_back(math::max_pool_taps(o, g.in_h, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h));
  for (int64_t o = 0; o < g.out_w; ++o)
    t.cols.push_back(math::max_pool_taps(o, g.in_w, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w));
  return t;
}

// The same windows and tie rule as math::max_pool_window (which a GPU kernel evaluates per
// output), with the taps hoisted out of the plane loop.
template <class T>
void max_pool(const Tensor& input, const Pool2dGeometry& g, const Tensor& output,
              const Tensor& indices) {
  const T* x = input.data_ptr<T>();
  T* y = output.data_ptr<T>();
  int64_t* idx = indices.data_ptr<int64_t>();
  const PoolTaps taps = max_taps(g);
  parallel_range(g.planes(), parallel_worth_it(g, g.kernel_h * g.kernel_w),
                 [&](int64_t begin, int64_t end) {
                   for (int64_t p = begin; p < end; ++p) {
                     const T* plane = x + p * g.in_plane();
                     for (int64_t oh = 0; oh < g.out_h; ++oh) {
                       const math::MaxTaps th = taps.rows[oh];
                       for (int64_t ow = 0; ow < g.out_w; ++ow) {
                         const math::MaxTaps tw = taps.cols[ow];
                         T best = -T(INFINITY);
                         int64_t best_index = th.first * g.in_w + tw.first;
                         for (int64_t ih = th.first; ih < th.end; ih += g.dilation_h)
                           for (int64_t iw = tw.first; iw < tw.end; iw += g.dilation_w) {
                             const T v = plane[ih * g.in_w + iw];
                             if (v > best || v != v) {
                               best = v;
                               best_index = ih * g.in_w + iw;
                             }
                           }
                         const int64_t o = p * g.out_plane() + oh * g.out_w + ow;
                         y[o] = best;
                         idx[o] = best_index;
                       }
                     }
                   }
                 });
}

template <class T>
void max_pool_backward(const Tensor& grad_output, const Tensor& indices, const Pool2dGeometry& g,
                       const Tensor& grad_input) {
  const T* dy = grad_output.data_ptr<T>();
  const int64_t* idx = indices.data_ptr<int64_t>();
  T* dx = grad_input.data_ptr<T>();
  parallel_range(g.planes(), parallel_worth_it(g, 1), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      T* plane = dx + p * g.in_plane();
      std::fill(plane, plane + g.in_plane(), T(0));
      for (int64_t o = p * g.out_plane(); o < (p + 1) * g.out_plane(); ++o) plane[idx[o]] += dy[o];
    }
  });
}

template <class T>
void avg_pool(const Tensor& input, const Pool2dGeometry& g, const Tensor& output) {
  const T* x = input.data_ptr<T>();
  T* y = output.data_ptr<T>();
  parallel_range(g.planes(), parallel_worth_it(g, g.kernel_h * g.kernel_w),
                 [&](int64_t begin, int64_t end) {
                   for (int64_t p = begin; p < end; ++p) {
                     const T* plane = x + p * g.in_plane();
                     T* out = y + p * g.out_plane();
                     for (int64_t oh = 0; oh < g.out_h; ++oh)
                       for (int64_t ow = 0; ow < g.out_w; ++ow) {
                         const math::AvgWindow win = math::avg_pool_window(g, oh, ow);
                         T sum = T(0);
                         for (int64_t ih = win.h0; ih < win.h1; ++ih)
                           for (int64_t iw = win.w0; iw < win.w1; ++iw)
                             sum += plane[ih * g.in_w + iw];
                         // An empty window (all padding) averages to 0, as in PyTorch.
                         out[oh * g.out_w + ow] =
                             win.h0 < win.h1 && win.w0 < win.w1 ? sum / T(win.divisor) : T(0);
                       }
                   }
                 });
}

template <class T>
void avg_pool_backward(const Tensor& grad_output, const Pool2dGeometry& g,
                       const Tensor& grad_input) {
  const T* dy = grad_output.data_ptr<T>();
  T* dx = grad_input.data_ptr<T>();
  parallel_range(g.planes(), parallel_worth_it(g, g.kernel_h * g.kernel_w),
                 [&](int64_t begin, int64_t end) {
                   for (int64_t p = begin; p < end; ++p) {
                     T* plane = dx + p * g.in_plane();
                     std::fill(plane, plane + g.in_plane(), T(0));
                     const T* grad = dy + p * g.out_plane();
                     for (int64_t oh = 0; oh < g.out_h; ++oh)
                       for (int64_t ow = 0; ow < g.out_w; ++ow) {
                         const math::AvgWindow win = math::avg_pool_window(g, oh, ow);
                         const T share = grad[oh * g.out_w + ow] / T(win.divisor);
                         for (int64_t ih = win.h0; ih < win.h1; ++ih)
                           for (int64_t iw = win.w0; iw < win.w1; ++iw)
                             plane[ih * g.in_w + iw] += share;
                       }
                   }
                 });
}

// Calls window(o, h0, h1, w0, w1) for every output position o (flat, row-major) of one plane
// of adaptive pooling, with its input window rows [h0, h1) and columns [w0, w1).
template <class Window>
void for_each_adaptive_window(const Pool2dGeometry& g, const Window& window) {
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    const int64_t h0 = math::adaptive_start(oh, g.out_h, g.in_h);
    const int64_t h1 = math::adaptive_end(oh, g.out_h, g.in_h);
    for (int64_t ow = 0; ow < g.out_w; ++ow)
      window(oh * g.out_w + ow, h0, h1, math::adaptive_start(ow, g.out_w, g.in_w),
             math::adaptive_end(ow, g.out_w, g.in_w));
  }
}

template <class T>
void adaptive_avg_pool(const Tensor& input, const Pool2dGeometry& g, const Tensor& output) {
  const T* x = input.data_ptr<T>();
  T* y = output.data_ptr<T>();
  parallel_range(g.planes(), parallel_worth_it(g, 1), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const T* plane = x + p * g.in_plane();
      T* out = y + p * g.out_plane();
      for_each_adaptive_window(g, [&](int64_t o, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
        T sum = T(0);
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) sum += plane[ih * g.in_w + iw];
        out[o] = sum / T((h1 - h0) * (w1 - w0));
      });
    }
  });
}

template <class T>
void adaptive_avg_pool_backward(const Tensor& grad_output, const Pool2dGeometry& g,
                                const Tensor& grad_input) {
  const T* dy = grad_output.data_ptr<T>();
  T* dx = grad_input.data_ptr<T>();
  parallel_range(g.planes(), parallel_worth_it(g, 1), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      T* plane = dx + p * g.in_plane();
      std::fill(plane, plane + g.in_plane(), T(0));
      const T* grad = dy + p * g.out_plane();
      for_each_adaptive_window(g, [&](int64_t o, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
        const T share = grad[o] / T((h1 - h0) * (w1 - w0));
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) plane[ih * g.in_w + iw] += share;
      });
    }
  });
}

}  // namespace

void max_pool2d_kernel(const Tensor& input, const Pool2dGeometry& geometry, const Tensor& output,
                       const Tensor& indices) {
  visit_floating(input.dtype(), "max_pool2d",
                 [&](auto tag) { max_pool<decltype(tag)>(input, geometry, output, indices); });
}

void max_pool2d_backward_kernel(const Tensor& grad_output, const Tensor& indices,
                                const Pool2dGeometry& geometry, const Tensor& grad_input) {
  visit_floating(grad_output.dtype(), "max_pool2d_backward", [&](auto tag) {
    max_pool_backward<decltype(tag)>(grad_output, indices, geometry, grad_input);
  });
}

void avg_pool2d_kernel(const Tensor& input, const Pool2dGeometry& geometry, const Tensor& output) {
  visit_floating(input.dtype(), "avg_pool2d",
                 [&](auto tag) { avg_pool<decltype(tag)>(input, geometry, output); });
}

void avg_pool2d_backward_kernel(const Tensor& grad_output, const Pool2dGeometry& geometry,
                                const Tensor& grad_input) {
  visit_floating(grad_output.dtype(), "avg_pool2d_backward", [&](auto tag) {
    avg_pool_backward<decltype(tag)>(grad_output, geometry, grad_input);
  });
}

void adaptive_avg_pool2d_kernel(const Tensor& input, const Pool2dGeometry& geometry,
                                const Tensor& output) {
  visit_floating(input.dtype(), "adaptive_avg_pool2d",
                 [&](auto tag) { adaptive_avg_pool<decltype(tag)>(input, geometry, output); });
}

void adaptive_avg_pool2d_backward_kernel(const Tensor& grad_output, const Pool2dGeometry& geometry,
                                         const Tensor& grad_input) {
  visit_floating(grad_output.dtype(), "adaptive_avg_pool2d_backward", [&](auto tag) {
    adaptive_avg_pool_backward<decltype(tag)>(grad_output, geometry, grad_input);
  });
}

}  // namespace kite::cpu
