// CPU convolution kernels: im2col/col2im around the engine's GEMM (see conv.h), and direct
// loops for stride-1 layers with one or two output channels per group.
//
// For one group of a set of images (Cg input channels, Og output channels, K = Cg * kh * kw,
// columns = the output pixels of the images side by side):
//   forward          out[Og, cols]  = W[Og, K] * col[K, cols]
//   transposed       col[K, cols]   = W^T[K, Og] * in[Og, cols],  then col2im adds col into out
//   weight gradient  dW[Og, K]     += dY[Og, cols] * col^T[cols, K]
// Small images (7x7, 14x14) go several to one GEMM, which then has enough columns to run
// near its peak and packs the weights once for all of them; their outputs pass through a
// scratch matrix. Large images are built a band of output rows at a time (a contiguous range
// of their columns), and the GEMM writes that band of the output in place (ldc = out_h *
// out_w). Either way the im2col buffer stays within kConvWorkspaceLimitBytes.
#include "ops/cpu/conv.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/error.h"
#include "engine/parallel.h"
#include "ops/cpu/gemm.h"

namespace kite::cpu {
namespace {

using math::ConvGeometry;
using math::IndexRange;

// Below this many flops per image, one thread per image is not worth a parallel region.
constexpr double kMinParallelFlops = 2.0 * 64 * 64 * 64;

std::atomic<size_t> workspace_peak{0};

// A growable, 64-byte aligned buffer kept by each thread across calls.
class Workspace {
 public:
  template <class T>
  T* get(int64_t elements) {
    const size_t bytes = static_cast<size_t>(elements) * sizeof(T);
    if (bytes > capacity_) {
      const size_t rounded = (bytes + 63) / 64 * 64;
      data_.reset(std::aligned_alloc(64, rounded));
      KITE_CHECK(data_ != nullptr, "conv2d: cannot allocate " << rounded << " bytes of workspace");
      capacity_ = rounded;
      size_t peak = workspace_peak.load();
      while (rounded > peak && !workspace_peak.compare_exchange_weak(peak, rounded)) {
      }
    }
    return static_cast<T*>(data_.get());
  }

 private:
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<void, FreeDeleter> data_;
  size_t capacity_ = 0;
};

// Holds the im2col matrix, and for multi-image GEMMs also the scratch matrix of their
// outputs (or output gradients) right after it; the direct loops keep their planes here.
thread_local Workspace tls_workspace;

// Enough GEMM columns for the micro-kernel to run near its peak (a few column slivers per
// packed panel of the weights).
constexpr int64_t kTargetColumns = 512;

// How a call walks its images: `images` images per GEMM (when whole images fit), or one
// image in bands of `band` output rows.
struct Plan {
  int64_t images = 1;
  int64_t band = 1;
};

template <class T>
Plan plan_for(const ConvGeometry& g, int threads) {
  const int64_t limit = static_cast<int64_t>(kConvWorkspaceLimitBytes), size = sizeof(T);
  const int64_t p = std::max<int64_t>(g.out_plane(), 1);
  Plan plan;
  plan.band = std::max<int64_t>(g.out_h, 1);
  if (g.is_pointwise()) return plan;  // the GEMM reads the input in place
  const int64_t image_bytes = g.col_rows() * p * size;
  if (image_bytes > limit) {
    const int64_t row_bytes = g.col_rows() * g.out_w * size;
    plan.band = std::clamp<int64_t>(limit / std::max<int64_t>(row_bytes, 1), 1, plan.band);
    return plan;
  }
  const int64_t fit = limit / ((g.col_rows() + g.out_channels_per_group()) * p * size);
  const int64_t wanted = (kTargetColumns + p - 1) / p;
  const int64_t per_thread =
      (g.batch + threads - 1) / std::max(threads, 1);  // keep every thread busy
  plan.images =
      std::clamp<int64_t>(std::min({fit, wanted, per_thread}), 1, std::max<int64_t>(g.batch, 1));
  return plan;
}

// The output rows [oh0, oh1) intersected with those whose tap kh reads inside the input.
IndexRange valid_rows(const ConvGeometry& g, int64_t kh, int64_t oh0, int64_t oh1) {
  IndexRange r = math::conv_valid_outputs(g.in_h, g.out_h, kh, g.stride_h, g.pad_top, g.dilation_h);
  r.begin = std::clamp(r.begin, oh0, oh1);
  r.end = std::clamp(r.end, r.begin, oh1);
  return r;
}

// Stride 1 with out_w == in_w (a "same"-width convolution, the common case): output pixel
// (h, w) reads input pixel (h + dy, w + dx) through tap (kh, kw), dy = kh dilation_h -
// pad_top, dx = kw dilation_w - pad_left. Flattened over a band of rows, that is ONE
// contiguous range of the input plane shifted by dy in_w + dx, except for the |dx| entries at
// one end of each row, which wrap around into the neighbouring row: those are padding and are
// zeroed. So im2col and col2im move whole bands with one copy (or add) per tap, instead of one
// short copy per output row, which matters for 7x7 and 14x14 images.
bool same_width(const ConvGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && g.out_w == g.in_w;
}

// Where one tap's band lives in the flattened planes (see same_width): destination entries
// [lo, hi) of the band's columns come from input entries [lo + shift, hi + shift); the
// entries cut off at the ends, and every row's wrap-around entries, are padding.
struct FlatTap {
  IndexRange rows;  // valid output rows
  int64_t dx;       // column shift
  int64_t lo, hi;   // band columns copied in one piece
  int64_t shift;    // input index = band column + shift
  bool empty;       // the tap reads only padding
};
FlatTap flat_tap(const ConvGeometry& g, const math::ColRow& r, int64_t oh0, int64_t oh1) {
  FlatTap t;
  t.rows = valid_rows(g, r.kh, oh0, oh1);
  t.dx = r.kw * g.dilation_w - g.pad_left;
  const int64_t dy = r.kh * g.dilation_h - g.pad_top;
  t.empty = t.rows.begin == t.rows.end || t.dx >= g.in_w || -t.dx >= g.in_w;
  t.lo = (t.rows.begin - oh0) * g.out_w + std::max<int64_t>(0, -t.dx);
  t.hi = (t.rows.end - oh0) * g.out_w - std::max<int64_t>(0, t.dx);
  t.shift = (oh0 + dy) * g.in_w + t.dx;
  return t;
}

// flat_tap of every (kh, kw), in row-major order: the same for every input channel.
std::vector<FlatTap> flat_taps(const ConvGeometry& g, int64_t oh0, int64_t oh1) {
  std::vector<FlatTap> taps;
  for (int64_t kh = 0; kh < g.kernel_h; ++kh)
    for (int64_t kw = 0; kw < g.kernel_w; ++kw) taps.push_back(flat_tap(g, {0, kh, kw}, oh0, oh1));
  return taps;
}

// Sets the wrap-around entries of the valid rows of one band row of col to zero.
template <class T>
void zero_wrapped_columns(T* dst, const ConvGeometry& g, const FlatTap& t, int64_t oh0) {
  if (t.dx == 0) return;
  const int64_t width = std::min<int64_t>(std::abs(t.dx), g.out_w);
  const int64_t first = t.dx < 0 ? 0 : g.out_w - width;
  for (int64_t h = t.rows.begin; h < t.rows.end; ++h) {
    T* d = dst + (h - oh0) * g.out_w + first;
    if (width == 1) {
      *d = T(0);  // the usual case (3x3 kernels): a store, not a call to memset
    } else {
      std::fill(d, d + width, T(0));
    }
  }
}

// Sets [begin, end) to zero, skipping the call for empty ranges (most of them here).
template <class T>
void zero(T* begin, T* end) {
  if (end > begin) std::fill(begin, end, T(0));
}

// The im2col columns of output rows [oh0, oh1) of one group of one image (x: [Cg, in_h,
// in_w]), written to the first (oh1 - oh0) * out_w columns of col, whose rows are ld apart.
template <class T>
void im2col_band(const T* x, const ConvGeometry& g, int64_t oh0, int64_t oh1, T* col, int64_t ld) {
  const int64_t cols = (oh1 - oh0) * g.out_w;
  const std::vector<FlatTap> taps = same_width(g) ? flat_taps(g, oh0, oh1) : std::vector<FlatTap>();
  for (int64_t row = 0; row < g.col_rows(); ++row) {
    const math::ColRow r = math::split_col_row(g, row);
    T* dst = col + row * ld;
    if (!taps.empty()) {
      const FlatTap& t = taps[r.kh * g.kernel_w + r.kw];
      if (t.empty) {
        zero(dst, dst + cols);
        continue;
      }
      zero(dst, dst + (t.rows.begin - oh0) * g.out_w);
      // An inline loop: the copies are short (a band of a small image); a call costs more.
      const T* src = x + r.channel * g.in_plane() + t.shift;
#pragma omp simd
      for (int64_t q = t.lo; q < t.hi; ++q) dst[q] = src[q];
      zero(dst + (t.rows.end - oh0) * g.out_w, dst + cols);
      zero_wrapped_columns(dst, g, t, oh0);
      continue;
    }
    const IndexRange ow =
        math::conv_valid_outputs(g.in_w, g.out_w, r.kw, g.stride_w, g.pad_left, g.dilation_w);
    const IndexRange oh = valid_rows(g, r.kh, oh0, oh1);
    zero(dst, dst + (oh.begin - oh0) * g.out_w);
    for (int64_t h = oh.begin; h < oh.end; ++h) {
      const int64_t ih = math::conv_input_coord(h, r.kh, g.stride_h, g.pad_top, g.dilation_h);
      const T* src = x + (r.channel * g.in_h + ih) * g.in_w +
                     math::conv_input_coord(ow.begin, r.kw, g.stride_w, g.pad_left, g.dilation_w);
      T* d = dst + (h - oh0) * g.out_w;
      zero(d, d + ow.begin);
      const int64_t n = ow.end - ow.begin;
      if (g.stride_w == 1) {
        std::memcpy(d + ow.begin, src, static_cast<size_t>(std::max<int64_t>(n, 0)) * sizeof(T));
      } else {
        for (int64_t j = 0; j < n; ++j) d[ow.begin + j] = src[j * g.stride_w];
      }
      zero(d + ow.end, d + g.out_w);
    }
    zero(dst + (oh.end - oh0) * g.out_w, dst + cols);
  }
}

// The adjoint of im2col_band: adds each entry of col (rows ld apart) back onto the input
// pixel it reads (x: [Cg, in_h, in_w], accumulated into). col is scratch: its padding
// entries may be overwritten.
template <class T>
void col2im_band(T* col, const ConvGeometry& g, int64_t oh0, int64_t oh1, T* x, int64_t ld) {
  const std::vector<FlatTap> taps = same_width(g) ? flat_taps(g, oh0, oh1) : std::vector<FlatTap>();
  for (int64_t row = 0; row < g.col_rows(); ++row) {
    const math::ColRow r = math::split_col_row(g, row);
    T* src_row = col + row * ld;
    if (!taps.empty()) {
      const FlatTap& t = taps[r.kh * g.kernel_w + r.kw];
      if (t.empty) continue;
      zero_wrapped_columns(src_row, g, t, oh0);  // padding: must add nothing
      T* d = x + r.channel * g.in_plane() + t.shift;
#pragma omp simd
      for (int64_t q = t.lo; q < t.hi; ++q) d[q] += src_row[q];
      continue;
    }
    const IndexRange ow =
        math::conv_valid_outputs(g.in_w, g.out_w, r.kw, g.stride_w, g.pad_left, g.dilation_w);
    const IndexRange oh = valid_rows(g, r.kh, oh0, oh1);
    const int64_t n = ow.end - ow.begin;
    for (int64_t h = oh.begin; h < oh.end; ++h) {
      const int64_t ih = math::conv_input_coord(h, r.kh, g.stride_h, g.pad_top, g.dilation_h);
      T* d = x + (r.channel * g.in_h + ih) * g.in_w +
             math::conv_input_coord(ow.begin, r.kw, g.stride_w, g.pad_left, g.dilation_w);
      const T* s = src_row + (h - oh0) * g.out_w + ow.begin;
      if (g.stride_w == 1) {
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) d[j] += s[j];
      } else {
        for (int64_t j = 0; j < n; ++j) d[j * g.stride_w] += s[j];
      }
    }
  }
}

// Sets each of `channels` planes of `plane` elements to its bias value (or zero).
template <class T>
void fill_planes(T* out, const T* bias, int64_t channels, int64_t plane) {
  for (int64_t c = 0; c < channels; ++c)
    std::fill(out + c * plane, out + (c + 1) * plane, bias ? bias[c] : T(0));
}

// ---- direct convolution, for stride-1 layers with very few output channels per group ----
//
// With Og = 1 (a final conv to one image channel, a depthwise conv) the GEMM degenerates to
// a matrix-vector product, and im2col's K x P matrix costs more memory traffic than the
// arithmetic it feeds. For stride 1 there is a better layout: copy each input channel into
// a zero-padded plane of width Wp = pad_left + W + pad_right and compute outputs on a grid
// of the same width. Then tap (kh, kw) of output q = oh * Wp + ow reads padded element
// q + kh * dilation_h * Wp + kw * dilation_w, so each tap is ONE long contiguous
// multiply-add over the whole plane (OH * Wp elements) instead of OH short row pieces. The
// Wp - OW extra columns per row are computed and dropped (or, in the adjoint, fed zeros).

// Below or at this many output channels per group, stride-1 convolutions take these loops.
constexpr int64_t kDirectMaxOutChannels = 2;

// The padded-plane layout of one geometry.
struct PaddedPlane {
  int64_t width, height;  // Wp, Hp: the input with its padding
  int64_t span;           // OH * Wp: outputs on the wide grid
  int64_t size;           // Hp * Wp plus the reach of the last tap past the plane's end
  int64_t tap(const ConvGeometry& g, int64_t kh, int64_t kw) const {
    return kh * g.dilation_h * width + kw * g.dilation_w;
  }
};
PaddedPlane padded_plane(const ConvGeometry& g) {
  PaddedPlane p;
  p.width = g.out_w + g.dilation_w * (g.kernel_w - 1);  // = pad_left + W + pad_right
  p.height = g.out_h + g.dilation_h * (g.kernel_h - 1);
  p.span = g.out_h * p.width;
  p.size = p.height * p.width + g.dilation_w * (g.kernel_w - 1);
  return p;
}

// The direct loops keep one padded input plane and Og wide output planes in the workspace;
// images too large for that take the GEMM path, which works in bands.
template <class T>
bool use_direct(const ConvGeometry& g) {
  if (g.out_channels_per_group() > kDirectMaxOutChannels || g.stride_h != 1 || g.stride_w != 1)
    return false;
  const PaddedPlane p = padded_plane(g);
  const int64_t bytes = (p.size + g.out_channels_per_group() * p.span) * int64_t{sizeof(T)};
  return bytes <= static_cast<int64_t>(kConvWorkspaceLimitBytes);
}

// dst (p.size elements) = the input plane src [in_h, in_w] at offset (pad_top, pad_left) in
// zeros. Rows past in_h and columns past in_w (bottom/right padding) stay zero.
template <class T>
void pad_plane(const T* src, const ConvGeometry& g, const PaddedPlane& p, T* dst) {
  std::fill(dst, dst + p.size, T(0));
  for (int64_t h = 0; h < g.in_h && g.pad_top + h < p.height; ++h) {
    const int64_t n = std::min(g.in_w, p.width - g.pad_left);
    if (n > 0)
      std::memcpy(dst + (g.pad_top + h) * p.width + g.pad_left, src + h * g.in_w, n * sizeof(T));
  }
}

// out[o] (wide grid, p.span elements per plane) = the image's Og planes of [out_h, out_w]
// spread onto rows of width Wp, zeros in the extra columns.
template <class T>
void widen_outputs(const T* y, const ConvGeometry& g, const PaddedPlane& p, int64_t planes,
                   T* wide) {
  for (int64_t o = 0; o < planes; ++o)
    for (int64_t h = 0; h < g.out_h; ++h) {
      T* row = wide + o * p.span + h * p.width;
      std::memcpy(row, y + (o * g.out_h + h) * g.out_w, g.out_w * sizeof(T));
      std::fill(row + g.out_w, row + p.width, T(0));
    }
}

// y += a x over n elements; x and y never overlap (simd: vectorise without alias checks).
template <class T>
void axpy(int64_t n, T a, const T* x, T* y) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

template <class T>
T dot(int64_t n, const T* x, const T* y) {
  T sum = T(0);
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

// out[Og, P] = conv of x[Cg, H, W] (one group of one image) plus bias.
template <class T>
void direct_forward(const T* x, const T* w, const T* bias, const ConvGeometry& g, T* out) {
  const int64_t cg = g.in_channels_per_group(), og = g.out_channels_per_group();
  const int64_t taps = g.kernel_h * g.kernel_w;
  const PaddedPlane p = padded_plane(g);
  T* plane = tls_workspace.get<T>(p.size + og * p.span);
  T* wide = plane + p.size;
  for (int64_t o = 0; o < og; ++o)
    std::fill(wide + o * p.span, wide + (o + 1) * p.span, bias ? bias[o] : T(0));
  for (int64_t c = 0; c < cg; ++c) {
    pad_plane(x + c * g.in_plane(), g, p, plane);
    for (int64_t o = 0; o < og; ++o)
      for (int64_t kh = 0; kh < g.kernel_h; ++kh)
        for (int64_t kw = 0; kw < g.kernel_w; ++kw)
          axpy(p.span, w[(o * cg + c) * taps + kh * g.kernel_w + kw], plane + p.tap(g, kh, kw),
               wide + o * p.span);
  }
  for (int64_t o = 0; o < og; ++o)
    for (int64_t h = 0; h < g.out_h; ++h)
      std::memcpy(out + (o * g.out_h + h) * g.out_w, wide + o * p.span + h * p.width,
                  g.out_w * sizeof(T));
}

// The adjoint: out[Cg, H, W] = transposed conv of in[Og, P] plus bias (per input channel).
template <class T>
void direct_transpose(const T* in, const T* w, const T* bias, const ConvGeometry& g, T* out) {
  const int64_t cg = g.in_channels_per_group(), og = g.out_channels_per_group();
  const int64_t taps = g.kernel_h * g.kernel_w;
  const PaddedPlane p = padded_plane(g);
  T* plane = tls_workspace.get<T>(p.size + og * p.span);
  T* wide = plane + p.size;
  widen_outputs(in, g, p, og, wide);
  for (int64_t c = 0; c < cg; ++c) {
    std::fill(plane, plane + p.size, T(0));
    for (int64_t o = 0; o < og; ++o)
      for (int64_t kh = 0; kh < g.kernel_h; ++kh)
        for (int64_t kw = 0; kw < g.kernel_w; ++kw)
          axpy(p.span, w[(o * cg + c) * taps + kh * g.kernel_w + kw], wide + o * p.span,
               plane + p.tap(g, kh, kw));
    // Keep the part of the padded plane that is the input; the padding's share is dropped.
    T* dst = out + c * g.in_plane();
    for (int64_t h = 0; h < g.in_h; ++h)
      for (int64_t iw = 0; iw < g.in_w; ++iw) {
        const int64_t ph = g.pad_top + h, pw = g.pad_left + iw;
        dst[h * g.in_w + iw] = (bias ? bias[c] : T(0)) +
                               (ph < p.height && pw < p.width ? plane[ph * p.width + pw] : T(0));
      }
  }
}

// dw[Og, Cg, KH, KW] = beta * dw + the weight gradient of one group of one image.
template <class T>
void direct_weight_grad(const T* x, const T* dy, const ConvGeometry& g, T beta, T* dw) {
  const int64_t cg = g.in_channels_per_group(), og = g.out_channels_per_group();
  const int64_t taps = g.kernel_h * g.kernel_w;
  const PaddedPlane p = padded_plane(g);
  T* plane = tls_workspace.get<T>(p.size + og * p.span);
  T* wide = plane + p.size;
  widen_outputs(dy, g, p, og, wide);  // zeros in the extra columns: they add nothing
  for (int64_t c = 0; c < cg; ++c) {
    pad_plane(x + c * g.in_plane(), g, p, plane);
    for (int64_t o = 0; o < og; ++o)
      for (int64_t kh = 0; kh < g.kernel_h; ++kh)
        for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
          const T sum = dot(p.span, wide + o * p.span, plane + p.tap(g, kh, kw));
          T& d = dw[(o * cg + c) * taps + kh * g.kernel_w + kw];
          d = beta == T(0) ? sum : beta * d + sum;
        }
  }
}

// ---- the GEMM paths, for `count` consecutive images of one call ----
//
// x points at the first image; images are in_image / out_image elements apart.

struct Images {
  int64_t count;
  int64_t in_image, out_image;  // elements per image of conv2d's input and output
};

template <class T>
void conv2d_images(const T* x, const T* w, const T* bias, const ConvGeometry& g, const Plan& plan,
                   const Images& im, T* out) {
  const int64_t cg = g.in_channels_per_group(), og = g.out_channels_per_group();
  const int64_t k = g.col_rows(), p = g.out_plane(), cols = im.count * p;
  if (use_direct<T>(g)) {
    for (int64_t i = 0; i < im.count; ++i)
      for (int64_t grp = 0; grp < g.groups; ++grp)
        direct_forward(x + i * im.in_image + grp * cg * g.in_plane(), w + grp * og * k,
                       bias ? bias + grp * og : nullptr, g, out + i * im.out_image + grp * og * p);
    return;
  }
  if (im.count > 1) {  // one GEMM for all the images, through the scratch matrix
    T* col = tls_workspace.get<T>((k + og) * cols);
    T* y = col + k * cols;
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      for (int64_t i = 0; i < im.count; ++i)
        im2col_band(x + i * im.in_image + grp * cg * g.in_plane(), g, 0, g.out_h, col + i * p,
                    cols);
      gemm<T>(false, false, og, cols, k, T(1), w + grp * og * k, k, col, cols, T(0), y, cols);
      for (int64_t i = 0; i < im.count; ++i)
        for (int64_t o = 0; o < og; ++o) {
          const T b = bias ? bias[grp * og + o] : T(0);
          const T* src = y + o * cols + i * p;
          T* dst = out + i * im.out_image + (grp * og + o) * p;
#pragma omp simd
          for (int64_t j = 0; j < p; ++j) dst[j] = src[j] + b;
        }
    }
    return;
  }
  // One image: the GEMM writes the output in place, a band of rows at a time.
  if (bias) fill_planes(out, bias, g.out_channels, p);
  const T beta = bias ? T(1) : T(0);
  for (int64_t grp = 0; grp < g.groups; ++grp) {
    const T* xg = x + grp * cg * g.in_plane();
    const T* wg = w + grp * og * k;
    T* yg = out + grp * og * p;
    if (g.is_pointwise()) {
      gemm<T>(false, false, og, p, k, T(1), wg, k, xg, p, beta, yg, p);
      continue;
    }
    for (int64_t oh0 = 0; oh0 < g.out_h; oh0 += plan.band) {
      const int64_t oh1 = std::min(g.out_h, oh0 + plan.band), n = (oh1 - oh0) * g.out_w;
      T* col = tls_workspace.get<T>(k * n);
      im2col_band(xg, g, oh0, oh1, col, n);
      gemm<T>(false, false, og, n, k, T(1), wg, k, col, n, beta, yg + oh0 * g.out_w, p);
    }
  }
}

// in: conv2d-output-shaped images; out: conv2d-input-shaped images.
template <class T>
void conv_transpose2d_images(const T* in, const T* w, const T* bias, const ConvGeometry& g,
                             const Plan& plan, const Images& im, T* out) {
  const int64_t cg = g.in_channels_per_group(), og = g.out_channels_per_group();
  const int64_t k = g.col_rows(), p = g.out_plane(), cols = im.count * p;
  if (use_direct<T>(g)) {
    for (int64_t i = 0; i < im.count; ++i)
      for (int64_t grp = 0; grp < g.groups; ++grp)
        direct_transpose(in + i * im.out_image + grp * og * p, w + grp * og * k,
                         bias ? bias + grp * cg : nullptr, g,
                         out + i * im.in_image + grp * cg * g.in_plane());
    return;
  }
  const bool overwrite = g.is_pointwise() && !bias;  // the GEMM writes every element itself
  if (!overwrite)
    for (int64_t i = 0; i < im.count; ++i)
      fill_planes(out + i * im.in_image, bias, g.in_channels, g.in_plane());
  if (im.count > 1) {
    T* col = tls_workspace.get<T>((k + og) * cols);
    T* dy = col + k * cols;
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      for (int64_t i = 0; i < im.count; ++i)
        for (int64_t o = 0; o < og; ++o)
          std::memcpy(dy + o * cols + i * p, in + i * im.out_image + (grp * og + o) * p,
                      p * sizeof(T));
      gemm<T>(true, false, k, cols, og, T(1), w + grp * og * k, k, dy, cols, T(0), col, cols);
      for (int64_t i = 0; i < im.count; ++i)
        col2im_band(col + i * p, g, 0, g.out_h, out + i * im.in_image + grp * cg * g.in_plane(),
                    cols);
    }
    return;
  }
  for (int64_t grp = 0; grp < g.groups; ++grp) {
    const T* ig = in + grp * og * p;
    const T* wg = w + grp * og * k;
    T* xg = out + grp * cg * g.in_plane();
    if (g.is_pointwise()) {
      gemm<T>(true, false, cg, p, og, T(1), wg, k, ig, p, overwrite ? T(0) : T(1), xg, p);
      continue;
    }
    for (int64_t oh0 = 0; oh0 < g.out_h; oh0 += plan.band) {
      const int64_t oh1 = std::min(g.out_h, oh0 + plan.band), n = (oh1 - oh0) * g.out_w;
      T* col = tls_workspace.get<T>(k * n);
      gemm<T>(true, false, k, n, og, T(1), wg, k, ig + oh0 * g.out_w, p, T(0), col, n);
      col2im_band(col, g, oh0, oh1, xg, n);
    }
  }
}

// dw (+)= the weight gradient of the images; beta 0 overwrites dw, 1 accumulates.
template <class T>
void weight_grad_images(const T* x, const T* dy, const ConvGeometry& g, const Plan& plan,
                        const Images& im, T beta, T* dw) {
  const int64_t cg = g.in_channels_per_group(), og = g.out_channels_per_group();
  const int64_t k = g.col_rows(), p = g.out_plane(), cols = im.count * p;
  if (use_direct<T>(g)) {
    for (int64_t i = 0; i < im.count; ++i)
      for (int64_t grp = 0; grp < g.groups; ++grp)
        direct_weight_grad(x + i * im.in_image + grp * cg * g.in_plane(),
                           dy + i * im.out_image + grp * og * p, g, i == 0 ? beta : T(1),
                           dw + grp * og * k);
    return;
  }
  if (im.count > 1) {
    T* col = tls_workspace.get<T>((k + og) * cols);
    T* grad = col + k * cols;
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      for (int64_t i = 0; i < im.count; ++i) {
        im2col_band(x + i * im.in_image + grp * cg * g.in_plane(), g, 0, g.out_h, col + i * p,
                    cols);
        for (int64_t o = 0; o < og; ++o)
          std::memcpy(grad + o * cols + i * p, dy + i * im.out_image + (grp * og + o) * p,
                      p * sizeof(T));
      }
      gemm<T>(false, true, og, k, cols, T(1), grad, cols, col, cols, beta, dw + grp * og * k, k);
    }
    return;
  }
  for (int64_t grp = 0; grp < g.groups; ++grp) {
    const T* xg = x + grp * cg * g.in_plane();
    const T* dyg = dy + grp * og * p;
    T* dwg = dw + grp * og * k;
    if (g.is_pointwise()) {
      gemm<T>(false, true, og, k, p, T(1), dyg, p, xg, p, beta, dwg, k);
      continue;
    }
    T band_beta = beta;
    for (int64_t oh0 = 0; oh0 < g.out_h; oh0 += plan.band) {
      const int64_t oh1 = std::min(g.out_h, oh0 + plan.band), n = (oh1 - oh0) * g.out_w;
      T* col = tls_workspace.get<T>(k * n);
      im2col_band(xg, g, oh0, oh1, col, n);
      gemm<T>(false, true, og, k, n, T(1), dyg + oh0 * g.out_w, p, col, n, band_beta, dwg, k);
      band_beta = T(1);
    }
  }
}

// ---- drivers: split the batch into chunks of plan.images images ----

double image_flops(const ConvGeometry& g) {
  return 2.0 * double(g.out_channels) * double(g.col_rows()) * double(g.out_plane());
}

// Whether to give whole chunks of images to threads (see conv.h).
bool images_in_parallel(const ConvGeometry& g) {
  const int threads = omp_get_max_threads();
  return threads > 1 && !omp_in_parallel() && g.batch >= threads &&
         image_flops(g) * double(g.batch) >= kMinParallelFlops * threads;
}

template <class T>
const T* optional_data(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

template <class T>
Plan plan_for_call(const ConvGeometry& g) {
  return plan_for<T>(g, images_in_parallel(g) ? omp_get_max_threads() : 1);
}

Images chunk(const ConvGeometry& g, const Plan& plan, int64_t c) {
  return {std::min(plan.images, g.batch - c * plan.images), g.in_channels * g.in_plane(),
          g.out_channels * g.out_plane()};
}

template <class T>
void conv2d_typed(const Tensor& input, const Tensor& weight, const Tensor& bias,
                  const ConvGeometry& g, const Tensor& output) {
  const T* x = input.data_ptr<T>();
  const T* w = weight.data_ptr<T>();
  const T* b = optional_data<T>(bias);
  T* y = output.data_ptr<T>();
  const Plan plan = plan_for_call<T>(g);
  const int64_t chunks = (g.batch + plan.images - 1) / plan.images;
  parallel_range(chunks, images_in_parallel(g), [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const Images im = chunk(g, plan, c);
      const int64_t first = c * plan.images;
      conv2d_images(x + first * im.in_image, w, b, g, plan, im, y + first * im.out_image);
    }
  });
}

template <class T>
void conv_transpose2d_typed(const Tensor& input, const Tensor& weight, const Tensor& bias,
                            const ConvGeometry& g, const Tensor& output) {
  const T* in = input.data_ptr<T>();
  const T* w = weight.data_ptr<T>();
  const T* b = optional_data<T>(bias);
  T* out = output.data_ptr<T>();
  const Plan plan = plan_for_call<T>(g);
  const int64_t chunks = (g.batch + plan.images - 1) / plan.images;
  parallel_range(chunks, images_in_parallel(g), [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const Images im = chunk(g, plan, c);
      const int64_t first = c * plan.images;
      conv_transpose2d_images(in + first * im.out_image, w, b, g, plan, im,
                              out + first * im.in_image);
    }
  });
}

template <class T>
void weight_grad_typed(const Tensor& input, const Tensor& grad_output, const ConvGeometry& g,
                       const Tensor& grad_weight) {
  const T* x = input.data_ptr<T>();
  const T* dy = grad_output.data_ptr<T>();
  T* dw = grad_weight.data_ptr<T>();
  const int64_t w_numel = grad_weight.numel();
  if (g.batch == 0) {
    std::fill(dw, dw + w_numel, T(0));
    return;
  }
  const Plan plan = plan_for_call<T>(g);
  const int64_t chunks = (g.batch + plan.images - 1) / plan.images;
  // Sums the chunks [begin, end) into acc (overwriting it first).
  auto run = [&](int64_t begin, int64_t end, T* acc) {
    if (begin == end) std::fill(acc, acc + w_numel, T(0));
    for (int64_t c = begin; c < end; ++c) {
      const Images im = chunk(g, plan, c);
      const int64_t first = c * plan.images;
      weight_grad_images(x + first * im.in_image, dy + first * im.out_image, g, plan, im,
                         c == begin ? T(0) : T(1), acc);
    }
  };
  if (!images_in_parallel(g)) {
    run(0, chunks, dw);
    return;
  }
  // Each thread sums its own chunks into a private gradient (thread 0 into dw itself); the
  // partial sums are added at the end.
  const int threads = omp_get_max_threads();
  std::vector<T> partial(static_cast<size_t>(threads - 1) * w_numel);
  int team = 1;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
#pragma omp single
    team = omp_get_num_threads();
    run(chunks * t / team, chunks * (t + 1) / team,
        t == 0 ? dw : partial.data() + (t - 1) * w_numel);
  }
  for (int t = 1; t < team; ++t) {
    const T* part = partial.data() + (t - 1) * w_numel;
#pragma omp simd
    for (int64_t i = 0; i < w_numel; ++i) dw[i] += part[i];
  }
}

}  // namespace

void conv2d_kernel(const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const ConvGeometry& geometry, const Tensor& output) {
  visit_floating(input.dtype(), "conv2d", [&](auto tag) {
    conv2d_typed<decltype(tag)>(input, weight, bias, geometry, output);
  });
}

void conv_transpose2d_kernel(const Tensor& input, const Tensor& weight, const Tensor& bias,
                             const ConvGeometry& geometry, const Tensor& output) {
  visit_floating(input.dtype(), "conv_transpose2d", [&](auto tag) {
    conv_transpose2d_typed<decltype(tag)>(input, weight, bias, geometry, output);
  });
}

void conv2d_weight_grad_kernel(const Tensor& input, const Tensor& grad_output,
                               const ConvGeometry& geometry, const Tensor& grad_weight) {
  visit_floating(input.dtype(), "conv2d_weight_grad", [&](auto tag) {
    weight_grad_typed<decltype(tag)>(input, grad_output, geometry, grad_weight);
  });
}

size_t conv_workspace_peak_bytes() { return workspace_peak.load(); }

}  // namespace kite::cpu
