// CUDA convolution kernels: im2col / col2im kernels around cuBLAS GEMMs, with the index math
// of ops/math/im2col.h (the CPU kernels' formulas).
//
// Per image n and group g (Cg input channels, Og output channels, K = Cg * kh * kw rows of
// the im2col matrix, P = out_h * out_w output pixels), everything row-major:
//   forward          out[n, g]  [Og, P] = W_g [Og, K] * col[n, g] [K, P]
//   transposed       col[n, g]  [K, P]  = W_g^T [K, Og] * in[n, g] [Og, P], then col2im
//   weight gradient  dW_g [Og, K] = sum_n dY[n, g] [Og, P] * col[n, g]^T [P, K]
// Images are processed in chunks whose im2col matrices fit a fixed workspace. Forward and
// transposed run one strided-batched GEMM per group and chunk (W_g repeated with stride 0).
// The weight gradient lays the chunk's columns out as [g, K, n * P] and the gradient as
// [g, Og, n * P], which turns the sum over images into the GEMM's own reduction: one GEMM
// per group and chunk. 1x1, stride-1, unpadded convolutions skip im2col in the forward and
// transposed directions (the input already is the column matrix).
// col2im is a gather (col2im_element): each input pixel sums its own entries, so no two
// threads write the same element. Convolutions with one or two output channels per group
// skip im2col and the GEMM (the direct kernels below).
#include <algorithm>

#include "cuda/blas.h"
#include "cuda/block_reduce.cuh"
#include "cuda/kernels.h"
#include "cuda/launch.cuh"
#include "engine/dtype.h"
#include "ops/math/im2col.h"
#include "ops/math/reduce.h"

namespace kite::cuda {
namespace {

using math::ConvGeometry;

// Elements of im2col workspace per chunk (128 MiB of float32, 256 MiB of float64).
constexpr int64_t kWorkspaceElements = int64_t{1} << 25;

// At most this many output channels per group: the direct kernels below, not im2col + GEMM.
constexpr int64_t kDirectMaxOutChannels = 2;

bool use_direct(const ConvGeometry& g) {
  return g.out_channels_per_group() <= kDirectMaxOutChannels;
}

// The two im2col kernels run a thread per (image, group, input channel, output pixel): it
// finds the pixel's row and column once and writes its channel's kernel_h * kernel_w rows
// (im2col_tap), so the index arithmetic (64-bit divisions, which a GPU does in software) is
// paid once per kh * kw entries rather than per entry. Neighbouring threads write
// neighbouring pixels of each row.

// col[((nl * groups + grp) * K + r) * P + p] for images n0 + nl, nl < count.
template <class T>
__global__ void im2col_kernel(const T* x, ConvGeometry g, int64_t n0, int64_t count, T* col) {
  const int64_t k = g.col_rows(), p_size = g.out_plane(), cg = g.in_channels_per_group();
  const int64_t taps = g.kernel_h * g.kernel_w;
  const int64_t total = count * g.groups * cg * p_size;
  for (int64_t idx = first_index(); idx < total; idx += grid_stride()) {
    const int64_t p = idx % p_size;
    int64_t t = idx / p_size;
    const int64_t c = t % cg;
    t /= cg;
    const int64_t grp = t % g.groups, nl = t / g.groups;
    const T* xc = x + ((n0 + nl) * g.in_channels + grp * cg + c) * g.in_plane();
    T* rows = col + ((nl * g.groups + grp) * k + c * taps) * p_size + p;
    const int64_t oh = p / g.out_w, ow = p % g.out_w;
    for (int64_t kh = 0; kh < g.kernel_h; ++kh)
      for (int64_t kw = 0; kw < g.kernel_w; ++kw)
        rows[(kh * g.kernel_w + kw) * p_size] = math::im2col_tap(xc, g, kh, kw, oh, ow);
  }
}

// The weight-gradient layout: col[((grp * K + r) * count + nl) * P + p].
template <class T>
__global__ void im2col_grouped_kernel(const T* x, ConvGeometry g, int64_t n0, int64_t count,
                                      T* col) {
  const int64_t k = g.col_rows(), p_size = g.out_plane(), cg = g.in_channels_per_group();
  const int64_t taps = g.kernel_h * g.kernel_w;
  const int64_t total = g.groups * cg * count * p_size;
  for (int64_t idx = first_index(); idx < total; idx += grid_stride()) {
    const int64_t p = idx % p_size;
    int64_t t = idx / p_size;
    const int64_t nl = t % count;
    t /= count;
    const int64_t c = t % cg, grp = t / cg;
    const T* xc = x + ((n0 + nl) * g.in_channels + grp * cg + c) * g.in_plane();
    T* rows = col + ((grp * k + c * taps) * count + nl) * p_size + p;
    const int64_t oh = p / g.out_w, ow = p % g.out_w;
    for (int64_t kh = 0; kh < g.kernel_h; ++kh)
      for (int64_t kw = 0; kw < g.kernel_w; ++kw)
        rows[(kh * g.kernel_w + kw) * count * p_size] = math::im2col_tap(xc, g, kh, kw, oh, ow);
  }
}

// dyp[((grp * Og + o) * count + nl) * P + p] = dy[n0 + nl, grp * Og + o, p].
template <class T>
__global__ void group_gradient_kernel(const T* dy, ConvGeometry g, int64_t n0, int64_t count,
                                      T* dyp) {
  const int64_t og = g.out_channels_per_group(), p_size = g.out_plane();
  const int64_t total = g.groups * og * count * p_size;
  for (int64_t idx = first_index(); idx < total; idx += grid_stride()) {
    const int64_t p = idx % p_size;
    int64_t t = idx / p_size;
    const int64_t nl = t % count;
    t /= count;
    const int64_t o = t % og, grp = t / og;
    dyp[idx] = dy[((n0 + nl) * g.out_channels + grp * og + o) * p_size + p];
  }
}

// Element idx of an [images, in_channels, in_h, in_w] tensor as (image, channel, h, w).
struct InputPixel {
  int64_t image, channel, h, w;
};
__device__ __forceinline__ InputPixel split_input_index(const ConvGeometry& g, int64_t idx) {
  const int64_t w = idx % g.in_w, rows = idx / g.in_w;
  const int64_t h = rows % g.in_h, planes = rows / g.in_h;
  return {planes / g.in_channels, planes % g.in_channels, h, w};
}

// out[n0 + nl, c, ih, iw] = bias[c] + the col entries copied from that pixel (col laid out as
// im2col_kernel writes it).
template <class T>
__global__ void col2im_kernel(const T* col, const T* bias, ConvGeometry g, int64_t n0,
                              int64_t count, T* out) {
  const int64_t k = g.col_rows(), p_size = g.out_plane(), cg = g.in_channels_per_group();
  const int64_t total = count * g.in_channels * g.in_plane();
  for (int64_t idx = first_index(); idx < total; idx += grid_stride()) {
    const InputPixel px = split_input_index(g, idx);
    const int64_t grp = px.channel / cg;
    const T* colg = col + (px.image * g.groups + grp) * k * p_size;
    const T sum = math::col2im_element(colg, g, px.channel % cg, px.h, px.w);
    out[n0 * g.in_channels * g.in_plane() + idx] = bias ? bias[px.channel] + sum : sum;
  }
}

// ---- direct kernels, for convolutions with at most kDirectMaxOutChannels per group ----
// The im2col matrix costs K * P elements of memory traffic per image (written, then read by
// the GEMM) whatever the number of output channels, and with one or two of them the GEMM is a
// matrix-vector product bound by that traffic (a decoder's last 5x5 convolution 64 -> 1
// spends 25 times its input on it). These kernels read the input through the cache instead.

// y[n, oc, p] = bias[oc] + conv_direct_element: a thread per output element.
template <class T>
__global__ void conv2d_direct_kernel(const T* x, const T* w, const T* bias, ConvGeometry g, T* y) {
  const int64_t p_size = g.out_plane(), cg = g.in_channels_per_group();
  const int64_t og = g.out_channels_per_group(), k = g.col_rows();
  const int64_t total = g.batch * g.out_channels * p_size;
  for (int64_t idx = first_index(); idx < total; idx += grid_stride()) {
    const int64_t p = idx % p_size, t = idx / p_size;
    const int64_t oc = t % g.out_channels, n = t / g.out_channels;
    const T* xg = x + (n * g.in_channels + oc / og * cg) * g.in_plane();
    const T sum = math::conv_direct_element(xg, w + oc * k, g, p / g.out_w, p % g.out_w);
    y[idx] = bias ? bias[oc] + sum : sum;
  }
}

// The transposed direction (conv_transpose2d, conv2d's input gradient): out[n, c, ih, iw] =
// bias[c] + col2im_gather of the entries (W_g^T in_g)[row, p], each computed where it is
// needed rather than stored. `in` is [N, out_channels, P], `out` [N, in_channels, in_h, in_w].
template <class T>
__global__ void conv_transpose2d_direct_kernel(const T* in, const T* w, const T* bias,
                                               ConvGeometry g, T* out) {
  const int64_t p_size = g.out_plane(), cg = g.in_channels_per_group();
  const int64_t og = g.out_channels_per_group(), k = g.col_rows();
  const int64_t total = g.batch * g.in_channels * g.in_plane();
  for (int64_t idx = first_index(); idx < total; idx += grid_stride()) {
    const InputPixel px = split_input_index(g, idx);
    const int64_t grp = px.channel / cg;
    const T* wg = w + grp * og * k;
    const T* ing = in + (px.image * g.out_channels + grp * og) * p_size;
    const T sum =
        math::col2im_gather<T>(g, px.channel % cg, px.h, px.w, [=](int64_t row, int64_t p) {
          T entry = T(0);
          for (int64_t o = 0; o < og; ++o) entry += wg[o * k + row] * ing[o * p_size + p];
          return entry;
        });
    out[idx] = bias ? bias[px.channel] + sum : sum;
  }
}

// dW[oc, r] = sum over images n and output pixels p of dy[n, oc, p] * im2col(x_n)[r, p]: a
// block per weight element. Each thread takes output pixels p, p + blockDim, ... and finds
// the input pixel that tap r reads for p once, then runs down the batch.
template <class T>
__global__ void conv2d_weight_grad_direct_kernel(const T* x, const T* dy, ConvGeometry g, T* dw) {
  using A = math::accumulator_t<T>;
  const int64_t p_size = g.out_plane(), cg = g.in_channels_per_group();
  const int64_t og = g.out_channels_per_group(), k = g.col_rows();
  const int64_t image_in = g.in_channels * g.in_plane(), image_out = g.out_channels * p_size;
  for (int64_t e = blockIdx.x; e < g.out_channels * k; e += gridDim.x) {
    const int64_t oc = e / k;
    const math::ColRow r = math::split_col_row(g, e % k);
    const T* xc = x + (oc / og * cg + r.channel) * g.in_plane();
    A sum = 0;
    for (int64_t p = threadIdx.x; p < p_size; p += blockDim.x) {
      const int64_t ih =
          math::conv_input_coord(p / g.out_w, r.kh, g.stride_h, g.pad_top, g.dilation_h);
      const int64_t iw =
          math::conv_input_coord(p % g.out_w, r.kw, g.stride_w, g.pad_left, g.dilation_w);
      if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) continue;
      const T* xp = xc + ih * g.in_w + iw;
      const T* dyp = dy + oc * p_size + p;
      for (int64_t n = 0; n < g.batch; ++n) sum += A(dyp[n * image_out]) * A(xp[n * image_in]);
    }
    sum = block_reduce(sum, math::SumCombine{}, A(0));
    if (threadIdx.x == 0) dw[e] = T(sum);
  }
}

// out[n, c, p] = bias[c] for the `count` images from n0 (channels planes of `plane` each).
template <class T>
__global__ void fill_bias_planes_kernel(const T* bias, int64_t n0, int64_t count, int64_t channels,
                                        int64_t plane, T* out) {
  const int64_t total = count * channels * plane;
  for (int64_t idx = first_index(); idx < total; idx += grid_stride())
    out[n0 * channels * plane + idx] = bias[(idx / plane) % channels];
}

template <class T>
__global__ void zero_kernel(T* out, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) out[i] = T(0);
}

template <class T>
const T* optional_data(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

// Images per chunk when each image needs `per_image` workspace elements.
int64_t chunk_images(int64_t batch, int64_t per_image) {
  return std::clamp<int64_t>(kWorkspaceElements / std::max<int64_t>(per_image, 1), 1,
                             std::max<int64_t>(batch, 1));
}

template <class T>
void conv2d_typed(const Tensor& input, const Tensor& weight, const Tensor& bias,
                  const ConvGeometry& g, const Tensor& output) {
  const T* x = input.data_ptr<T>();
  const T* w = weight.data_ptr<T>();
  const T* b = optional_data<T>(bias);
  T* y = output.data_ptr<T>();
  const int64_t cg = g.in_channels_per_group(), og = g.out_channels_per_group();
  const int64_t k = g.col_rows(), p = g.out_plane();
  const cudaStream_t stream = current_stream();
  if (use_direct(g)) {
    conv2d_direct_kernel<<<grid_for(output.numel()), kBlockSize, 0, stream>>>(x, w, b, g, y);
    KITE_CUDA_CHECK_LAUNCH();
    return;
  }
  const bool pointwise = g.is_pointwise();
  const int64_t chunk = chunk_images(g.batch, pointwise ? 0 : g.groups * k * p);
  Tensor workspace;
  if (!pointwise)
    workspace = Tensor::empty({chunk * g.groups * k * p}, input.dtype(), input.device());
  T* col = pointwise ? nullptr : workspace.data_ptr<T>();
  const T beta = b ? T(1) : T(0);

  for (int64_t n0 = 0; n0 < g.batch; n0 += chunk) {
    const int64_t count = std::min(chunk, g.batch - n0);
    if (b) {
      fill_bias_planes_kernel<<<grid_for(count * g.out_channels * p), kBlockSize, 0, stream>>>(
          b, n0, count, g.out_channels, p, y);
      KITE_CUDA_CHECK_LAUNCH();
    }
    if (k == 0) {  // no input channels: the output is the bias (or zero)
      if (!b) {
        zero_kernel<<<grid_for(count * g.out_channels * p), kBlockSize, 0, stream>>>(
            y + n0 * g.out_channels * p, count * g.out_channels * p);
        KITE_CUDA_CHECK_LAUNCH();
      }
      continue;
    }
    if (!pointwise) {
      im2col_kernel<<<grid_for(count * g.in_channels * p), kBlockSize, 0, stream>>>(x, g, n0, count,
                                                                                    col);
      KITE_CUDA_CHECK_LAUNCH();
    }
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      // B: this group's column matrix of each image in the chunk.
      const T* bmat = pointwise ? x + (n0 * g.in_channels + grp * cg) * p : col + grp * k * p;
      const int64_t b_stride = pointwise ? g.in_channels * p : g.groups * k * p;
      gemm_strided_batched<T>(false, false, og, p, k, T(1), w + grp * og * k, k, 0, bmat, p,
                              b_stride, beta, y + (n0 * g.out_channels + grp * og) * p, p,
                              g.out_channels * p, count);
    }
  }
}

// input: [N, out_channels, P] (conv2d-output shaped); output: [N, in_channels, in_h, in_w].
template <class T>
void conv_transpose2d_typed(const Tensor& input, const Tensor& weight, const Tensor& bias,
                            const ConvGeometry& g, const Tensor& output) {
  const T* in = input.data_ptr<T>();
  const T* w = weight.data_ptr<T>();
  const T* b = optional_data<T>(bias);
  T* out = output.data_ptr<T>();
  const int64_t cg = g.in_channels_per_group(), og = g.out_channels_per_group();
  const int64_t k = g.col_rows(), p = g.out_plane();
  const cudaStream_t stream = current_stream();
  if (og > 0 && use_direct(g)) {
    conv_transpose2d_direct_kernel<<<grid_for(output.numel()), kBlockSize, 0, stream>>>(in, w, b, g,
                                                                                        out);
    KITE_CUDA_CHECK_LAUNCH();
    return;
  }
  const bool pointwise = g.is_pointwise();
  const int64_t chunk = chunk_images(g.batch, pointwise ? 0 : g.groups * k * p);
  Tensor workspace;
  if (!pointwise)
    workspace = Tensor::empty({chunk * g.groups * k * p}, input.dtype(), input.device());
  T* col = pointwise ? nullptr : workspace.data_ptr<T>();

  for (int64_t n0 = 0; n0 < g.batch; n0 += chunk) {
    const int64_t count = std::min(chunk, g.batch - n0);
    if (og == 0) {  // no conv2d-output channels: the output is the bias (or zero)
      if (b) {
        fill_bias_planes_kernel<<<grid_for(count * g.in_channels * g.in_plane()), kBlockSize, 0,
                                  stream>>>(b, n0, count, g.in_channels, g.in_plane(), out);
      } else {
        zero_kernel<<<grid_for(count * g.in_channels * g.in_plane()), kBlockSize, 0, stream>>>(
            out + n0 * g.in_channels * g.in_plane(), count * g.in_channels * g.in_plane());
      }
      KITE_CUDA_CHECK_LAUNCH();
      continue;
    }
    if (pointwise) {
      // out_g [Cg, P] = W_g^T [Cg, Og] * in_g [Og, P] (in_plane == P), onto the bias.
      if (b) {
        fill_bias_planes_kernel<<<grid_for(count * g.in_channels * p), kBlockSize, 0, stream>>>(
            b, n0, count, g.in_channels, p, out);
        KITE_CUDA_CHECK_LAUNCH();
      }
      for (int64_t grp = 0; grp < g.groups; ++grp)
        gemm_strided_batched<T>(true, false, cg, p, og, T(1), w + grp * og * k, k, 0,
                                in + (n0 * g.out_channels + grp * og) * p, p, g.out_channels * p,
                                b ? T(1) : T(0), out + (n0 * g.in_channels + grp * cg) * p, p,
                                g.in_channels * p, count);
      continue;
    }
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm_strided_batched<T>(true, false, k, p, og, T(1), w + grp * og * k, k, 0,
                              in + (n0 * g.out_channels + grp * og) * p, p, g.out_channels * p,
                              T(0), col + grp * k * p, p, g.groups * k * p, count);
    col2im_kernel<<<grid_for(count * g.in_channels * g.in_plane()), kBlockSize, 0, stream>>>(
        col, b, g, n0, count, out);
    KITE_CUDA_CHECK_LAUNCH();
  }
}

template <class T>
void weight_grad_typed(const Tensor& input, const Tensor& grad_output, const ConvGeometry& g,
                       const Tensor& grad_weight) {
  const T* x = input.data_ptr<T>();
  const T* dy = grad_output.data_ptr<T>();
  T* dw = grad_weight.data_ptr<T>();
  const int64_t og = g.out_channels_per_group();
  const int64_t k = g.col_rows(), p = g.out_plane();
  const cudaStream_t stream = current_stream();
  if (g.batch == 0 || p == 0) {
    zero_kernel<<<grid_for(grad_weight.numel()), kBlockSize, 0, stream>>>(dw, grad_weight.numel());
    KITE_CUDA_CHECK_LAUNCH();
    return;
  }
  if (use_direct(g)) {
    const int64_t elements = grad_weight.numel();
    conv2d_weight_grad_direct_kernel<<<block_per_item(elements), kBlockSize, 0, stream>>>(x, dy, g,
                                                                                          dw);
    KITE_CUDA_CHECK_LAUNCH();
    return;
  }
  // Workspace per image: its columns (groups * K * P) and its gradient (out_channels * P).
  const int64_t chunk = chunk_images(g.batch, (g.groups * k + g.out_channels) * p);
  Tensor workspace =
      Tensor::empty({chunk * (g.groups * k + g.out_channels) * p}, input.dtype(), input.device());
  T* col = workspace.data_ptr<T>();
  T* dyp = col + chunk * g.groups * k * p;

  for (int64_t n0 = 0; n0 < g.batch; n0 += chunk) {
    const int64_t count = std::min(chunk, g.batch - n0);
    im2col_grouped_kernel<<<grid_for(g.in_channels * count * p), kBlockSize, 0, stream>>>(
        x, g, n0, count, col);
    KITE_CUDA_CHECK_LAUNCH();
    group_gradient_kernel<<<grid_for(g.out_channels * count * p), kBlockSize, 0, stream>>>(
        dy, g, n0, count, dyp);
    KITE_CUDA_CHECK_LAUNCH();
    const int64_t depth = count * p;  // the GEMM's reduction: images x pixels
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm_strided_batched<T>(false, true, og, k, depth, T(1), dyp + grp * og * depth, depth, 0,
                              col + grp * k * depth, depth, 0, n0 == 0 ? T(0) : T(1),
                              dw + grp * og * k, k, 0, 1);
  }
}

}  // namespace

void conv2d_kernel(const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const ConvGeometry& geometry, const Tensor& output) {
  if (output.numel() == 0) return;
  DeviceGuard guard(output.device().index);
  visit_floating(input.dtype(), "conv2d", [&](auto tag) {
    conv2d_typed<decltype(tag)>(input, weight, bias, geometry, output);
  });
}

void conv_transpose2d_kernel(const Tensor& input, const Tensor& weight, const Tensor& bias,
                             const ConvGeometry& geometry, const Tensor& output) {
  if (output.numel() == 0) return;
  DeviceGuard guard(output.device().index);
  visit_floating(input.dtype(), "conv_transpose2d", [&](auto tag) {
    conv_transpose2d_typed<decltype(tag)>(input, weight, bias, geometry, output);
  });
}

void conv2d_weight_grad_kernel(const Tensor& input, const Tensor& grad_output,
                               const ConvGeometry& geometry, const Tensor& grad_weight) {
  if (grad_weight.numel() == 0) return;
  DeviceGuard guard(grad_weight.device().index);
  visit_floating(input.dtype(), "conv2d_weight_grad", [&](auto tag) {
    weight_grad_typed<decltype(tag)>(input, grad_output, geometry, grad_weight);
  });
}

}  // namespace kite::cuda
