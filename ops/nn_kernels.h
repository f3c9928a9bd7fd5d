// The kernel interface of the spatial and normalisation ops (convolution, pooling,
// resampling, normalisation): what a device must provide to run them.
//
// Kernels are found through DispatchStubs (engine/dispatch.h). The stubs are defined in
// ops/conv.cpp, ops/pool.cpp, ops/upsample.cpp and ops/norm.cpp with the CPU kernels
// (ops/cpu/); a CUDA library fills the CUDA slot with `conv2d_stub.set(DeviceType::CUDA, ...)`.
// The index math and arithmetic are in ops/math/{im2col,pool,upsample,norm}.h so that both
// devices run the same formulas.
//
// Layout contract, shared by every kernel below:
//   - Every tensor is contiguous (callers make inputs contiguous), on one device, and of one
//     floating dtype, except max-pooling indices, which are int64.
//   - Outputs are freshly allocated with the shape the geometry implies; kernels write every
//     element (they never rely on prior contents).
//   - Optional tensors (bias, weight) may be undefined.
//   - Shapes are valid: callers have checked them and built the geometry.
#pragma once

#include "engine/dispatch.h"
#include "engine/tensor.h"
#include "ops/math/im2col.h"
#include "ops/math/norm.h"
#include "ops/math/pool.h"
#include "ops/math/upsample.h"

namespace kite {

// ---- convolution (geometry in the conv2d direction: in = conv2d input, out = its output) ----

// input [N, in_channels, in_h, in_w], weight [out_channels, in_channels / groups, kh, kw],
// bias [out_channels] -> output [N, out_channels, out_h, out_w].
using Conv2dKernel = void (*)(const Tensor& input, const Tensor& weight, const Tensor& bias,
                              const math::ConvGeometry& geometry, const Tensor& output);
// The adjoint: input [N, out_channels, out_h, out_w] (conv2d-output shaped), the same
// weight, bias [in_channels] -> output [N, in_channels, in_h, in_w]. This is
// conv_transpose2d's forward and conv2d's input gradient.
using ConvTranspose2dKernel = void (*)(const Tensor& input, const Tensor& weight,
                                       const Tensor& bias, const math::ConvGeometry& geometry,
                                       const Tensor& output);
// input [N, in_channels, in_h, in_w], grad_output [N, out_channels, out_h, out_w]
// -> grad_weight [out_channels, in_channels / groups, kh, kw] (summed over the batch).
using Conv2dWeightGradKernel = void (*)(const Tensor& input, const Tensor& grad_output,
                                        const math::ConvGeometry& geometry,
                                        const Tensor& grad_weight);

extern DispatchStub<Conv2dKernel> conv2d_stub;
extern DispatchStub<ConvTranspose2dKernel> conv_transpose2d_stub;
extern DispatchStub<Conv2dWeightGradKernel> conv2d_weight_grad_stub;

// ---- pooling (input [N, C, in_h, in_w], output [N, C, out_h, out_w]) ----

// indices: int64, shaped like output, flat positions within each input plane.
using MaxPool2dKernel = void (*)(const Tensor& input, const math::Pool2dGeometry& geometry,
                                 const Tensor& output, const Tensor& indices);
// grad_input = zeros, then grad_input[plane][indices[o]] += grad_output[o].
using MaxPool2dBackwardKernel = void (*)(const Tensor& grad_output, const Tensor& indices,
                                         const math::Pool2dGeometry& geometry,
                                         const Tensor& grad_input);
using AvgPool2dKernel = void (*)(const Tensor& input, const math::Pool2dGeometry& geometry,
                                 const Tensor& output);
// grad_output [N, C, out_h, out_w] -> grad_input [N, C, in_h, in_w].
using AvgPool2dBackwardKernel = void (*)(const Tensor& grad_output,
                                         const math::Pool2dGeometry& geometry,
                                         const Tensor& grad_input);
// Adaptive pooling uses only the batch, channel and in/out sizes of the geometry.
using AdaptiveAvgPool2dKernel = AvgPool2dKernel;
using AdaptiveAvgPool2dBackwardKernel = AvgPool2dBackwardKernel;

extern DispatchStub<MaxPool2dKernel> max_pool2d_stub;
extern DispatchStub<MaxPool2dBackwardKernel> max_pool2d_backward_stub;
extern DispatchStub<AvgPool2dKernel> avg_pool2d_stub;
extern DispatchStub<AvgPool2dBackwardKernel> avg_pool2d_backward_stub;
extern DispatchStub<AdaptiveAvgPool2dKernel> adaptive_avg_pool2d_stub;
extern DispatchStub<AdaptiveAvgPool2dBackwardKernel> adaptive_avg_pool2d_backward_stub;

// ---- resampling (input [N, C, in_h, in_w], output [N, C, out_h, out_w]) ----

// out_h / out_w are integer multiples of in_h / in_w.
using UpsampleNearest2dKernel = void (*)(const Tensor& input,
                                         const math::ResampleGeometry& geometry,
                                         const Tensor& output);
using UpsampleBilinear2dKernel = void (*)(const Tensor& input,
                                          const math::ResampleGeometry& geometry,
                                          const Tensor& output);
// grad_output [N, C, out_h, out_w] -> grad_input [N, C, in_h, in_w].
using UpsampleBilinear2dBackwardKernel = void (*)(const Tensor& grad_output,
                                                  const math::ResampleGeometry& geometry,
                                                  const Tensor& grad_input);

extern DispatchStub<UpsampleNearest2dKernel> upsample_nearest2d_stub;
extern DispatchStub<UpsampleBilinear2dKernel> upsample_bilinear2d_stub;
extern DispatchStub<UpsampleBilinear2dBackwardKernel> upsample_bilinear2d_backward_stub;

// ---- normalisation (input viewed as [outer, groups, inner], see ops/math/norm.h) ----

// mean, var: [groups], the input's dtype; var is the biased (population) variance.
using NormMomentsKernel = void (*)(const Tensor& input, const math::NormLayout& layout,
                                   const Tensor& mean, const Tensor& var);
// output = (input - mean) / sqrt(var + eps) * weight + bias, weight and bias indexed by
// layout.weight_index (either may be undefined: 1 and 0).
using NormApplyKernel = void (*)(const Tensor& input, const Tensor& mean, const Tensor& var,
                                 const Tensor& weight, const Tensor& bias,
                                 const math::NormLayout& layout, double eps, const Tensor& output);
// Training-mode batch norm backward (layout.weight_per_group()), for the given batch
// statistics. Writes whichever of grad_input, grad_weight, grad_bias are defined.
using BatchNormBackwardKernel = void (*)(const Tensor& grad_output, const Tensor& input,
                                         const Tensor& mean, const Tensor& var,
                                         const Tensor& weight, const math::NormLayout& layout,
                                         double eps, const Tensor& grad_input,
                                         const Tensor& grad_weight, const Tensor& grad_bias);

// The same for any layout (group norm, layer norm): weight and the parameter gradients have
// (weight_mod * inner) / weight_div elements, indexed by layout.weight_index. Optional: ops
// fall back to their backward written as ops on devices without it.
using NormBackwardKernel = BatchNormBackwardKernel;

extern DispatchStub<NormMomentsKernel> norm_moments_stub;
extern DispatchStub<NormApplyKernel> norm_apply_stub;
extern DispatchStub<BatchNormBackwardKernel> batch_norm_backward_stub;
extern DispatchStub<NormBackwardKernel> norm_backward_stub;

// ---- checks shared by the callers of these kernels (defined in ops/conv.cpp) ----

// x is defined, floating and `dims`-dimensional; `layout` names the axes for the message.
void check_floating_input(const char* op, const Tensor& x, int64_t dims, const char* layout);
// `other` (when defined) has x's dtype and device; `what` names it in the message.
void check_same_kind(const char* op, const Tensor& x, const Tensor& other, const char* what);
// t itself when contiguous (or undefined), else a contiguous copy made without recording.
Tensor contiguous_input(const Tensor& t);

}  // namespace kite
