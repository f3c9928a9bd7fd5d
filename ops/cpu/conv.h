// CPU kernels of 2-D convolution (see ops/nn_kernels.h for the contracts): im2col + GEMM
// forward, GEMM + col2im transposed convolution, im2col + GEMM weight gradient; direct loops
// for stride-1 convolutions with one or two output channels per group.
//
// Threads: with at least as many images as threads, each thread takes whole images and
// runs its GEMMs single-threaded (no synchronisation at all); with fewer images, images go
// one after another and the GEMM threads itself.
//
// Memory: each thread keeps one workspace buffer, reused across calls, for the im2col matrix
// (of several small images at once, or of a band of output rows of a large one) and the
// scratch outputs of multi-image GEMMs. It never grows past kConvWorkspaceLimitBytes, unless
// a single output row's im2col columns alone need more.
#pragma once

#include <cstddef>

#include "engine/tensor.h"
#include "ops/math/im2col.h"

namespace kite::cpu {

void conv2d_kernel(const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const math::ConvGeometry& geometry, const Tensor& output);
void conv_transpose2d_kernel(const Tensor& input, const Tensor& weight, const Tensor& bias,
                             const math::ConvGeometry& geometry, const Tensor& output);
void conv2d_weight_grad_kernel(const Tensor& input, const Tensor& grad_output,
                               const math::ConvGeometry& geometry, const Tensor& grad_weight);

// Per-thread bound on the workspace: room for a few 14x14 images of a 3x3 conv over 128
// channels in one GEMM (the GEMM packs it block by block, so it need not fit a cache).
inline constexpr size_t kConvWorkspaceLimitBytes = size_t{4} << 20;

// The largest workspace any thread has held so far (for tests and benchmarks).
size_t conv_workspace_peak_bytes();

}  // namespace kite::cpu
