// CPU resampling kernels. Bilinear taps depend only on the output row or column, so they are
// computed once per call and shared by every plane.
#include "ops/cpu/upsample.h"

#include <algorithm>
#include <vector>

#include "engine/dtype.h"
#include "engine/parallel.h"

namespace kite::cpu {
namespace {

using math::LinearTaps;
using math::ResampleGeometry;

constexpr int64_t kParallelMinWork = 32768;

bool parallel_worth_it(const ResampleGeometry& g) {
  return g.planes() * (g.in_plane() + g.out_plane()) >= kParallelMinWork;
}

// Each input row becomes one output row of repeated pixels, copied scale_h times (the same
// result as math::nearest_source per output pixel, which a GPU kernel uses, in whole rows).
template <class T>
void nearest(const Tensor& input, const ResampleGeometry& g, const Tensor& output) {
  const T* x = input.data_ptr<T>();
  T* y = output.data_ptr<T>();
  const int64_t scale_h = g.out_h / g.in_h, scale_w = g.out_w / g.in_w;
  parallel_range(g.planes(), parallel_worth_it(g), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const T* plane = x + p * g.in_plane();
      T* out = y + p * g.out_plane();
      for (int64_t ih = 0; ih < g.in_h; ++ih) {
        const T* row = plane + ih * g.in_w;
        T* first = out + ih * scale_h * g.out_w;
        for (int64_t iw = 0; iw < g.in_w; ++iw)
          for (int64_t s = 0; s < scale_w; ++s) first[iw * scale_w + s] = row[iw];
        for (int64_t s = 1; s < scale_h; ++s)
          std::copy(first, first + g.out_w, first + s * g.out_w);
      }
    }
  });
}

template <class T>
std::vector<LinearTaps<T>> taps_along(int64_t in, int64_t out, bool align_corners) {
  const T scale = math::linear_scale<T>(in, out, align_corners);
  std::vector<LinearTaps<T>> taps(out);
  for (int64_t o = 0; o < out; ++o) taps[o] = math::linear_taps<T>(o, in, scale, align_corners);
  return taps;
}

template <class T>
void bilinear(const Tensor& input, const ResampleGeometry& g, const Tensor& output) {
  const T* x = input.data_ptr<T>();
  T* y = output.data_ptr<T>();
  const auto th = taps_along<T>(g.in_h, g.out_h, g.align_corners);
  const auto tw = taps_along<T>(g.in_w, g.out_w, g.align_corners);
  parallel_range(g.planes(), parallel_worth_it(g), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const T* plane = x + p * g.in_plane();
      T* out = y + p * g.out_plane();
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        const LinearTaps<T>& h = th[oh];
        const T* r0 = plane + h.i0 * g.in_w;
        const T* r1 = plane + h.i1 * g.in_w;
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const LinearTaps<T>& w = tw[ow];
          out[oh * g.out_w + ow] = h.w0 * (w.w0 * r0[w.i0] + w.w1 * r0[w.i1]) +
                                   h.w1 * (w.w0 * r1[w.i0] + w.w1 * r1[w.i1]);
        }
      }
    }
  });
}

template <class T>
void bilinear_backward(const Tensor& grad_output, const ResampleGeometry& g,
                       const Tensor& grad_input) {
  const T* dy = grad_output.data_ptr<T>();
  T* dx = grad_input.data_ptr<T>();
  const auto th = taps_along<T>(g.in_h, g.out_h, g.align_corners);
  const auto tw = taps_along<T>(g.in_w, g.out_w, g.align_corners);
  parallel_range(g.planes(), parallel_worth_it(g), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      T* plane = dx + p * g.in_plane();
      std::fill(plane, plane + g.in_plane(), T(0));
      const T* grad = dy + p * g.out_plane();
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        const LinearTaps<T>& h = th[oh];
        T* r0 = plane + h.i0 * g.in_w;
        T* r1 = plane + h.i1 * g.in_w;
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const LinearTaps<T>& w = tw[ow];
          const T v = grad[oh * g.out_w + ow];
          r0[w.i0] += h.w0 * w.w0 * v;
          r0[w.i1] += h.w0 * w.w1 * v;
          r1[w.i0] += h.w1 * w.w0 * v;
          r1[w.i1] += h.w1 * w.w1 * v;
        }
      }
    }
  });
}

}  // namespace

void upsample_nearest2d_kernel(const Tensor& input, const ResampleGeometry& geometry,
                               const Tensor& output) {
  visit_floating(input.dtype(), "upsample_nearest2d",
                 [&](auto tag) { nearest<decltype(tag)>(input, geometry, output); });
}

void upsample_bilinear2d_kernel(const Tensor& input, const ResampleGeometry& geometry,
                                const Tensor& output) {
  visit_floating(input.dtype(), "upsample_bilinear2d",
                 [&](auto tag) { bilinear<decltype(tag)>(input, geometry, output); });
}

void upsample_bilinear2d_backward_kernel(const Tensor& grad_output,
                                         const ResampleGeometry& geometry,
                                         const Tensor& grad_input) {
  visit_floating(grad_output.dtype(), "upsample_bilinear2d_backward", [&](auto tag) {
    bilinear_backward<decltype(tag)>(grad_output, geometry, grad_input);
  });
}

}  // namespace kite::cpu
