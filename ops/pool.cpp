// Pooling ops: shape checks, geometry, dispatch and backward formulas (see pool.h).
#include "ops/pool.h"

#include <string>

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/cpu/pool.h"
#include "ops/nn_kernels.h"
#include "ops/shape_ops.h"

namespace kite {

DispatchStub<MaxPool2dKernel> max_pool2d_stub{"max_pool2d", cpu::max_pool2d_kernel};
DispatchStub<MaxPool2dBackwardKernel> max_pool2d_backward_stub{"max_pool2d_backward",
                                                               cpu::max_pool2d_backward_kernel};
DispatchStub<AvgPool2dKernel> avg_pool2d_stub{"avg_pool2d", cpu::avg_pool2d_kernel};
DispatchStub<AvgPool2dBackwardKernel> avg_pool2d_backward_stub{"avg_pool2d_backward",
                                                               cpu::avg_pool2d_backward_kernel};
DispatchStub<AdaptiveAvgPool2dKernel> adaptive_avg_pool2d_stub{"adaptive_avg_pool2d",
                                                               cpu::adaptive_avg_pool2d_kernel};
DispatchStub<AdaptiveAvgPool2dBackwardKernel> adaptive_avg_pool2d_backward_stub{
    "adaptive_avg_pool2d_backward", cpu::adaptive_avg_pool2d_backward_kernel};

namespace {

std::string size_str(Size2d s) { return std::to_string(s.h) + "x" + std::to_string(s.w); }

struct WindowOptions {
  Size2d kernel, stride, padding, dilation;
  bool ceil_mode;
  int64_t max_padding_h, max_padding_w;  // PyTorch's limit: half the (dilated) kernel
};

// Validates a window configuration on a [N, C, H, W] input and returns its geometry.
math::Pool2dGeometry pool_geometry(const char* op, const Shape& in, const WindowOptions& o) {
  KITE_CHECK(in.size() == 4,
             op << ": expected a 4-D input [N, C, H, W], got shape " << shape_str(in));
  KITE_CHECK(o.kernel.h > 0 && o.kernel.w > 0,
             op << ": kernel size must be positive, got " << size_str(o.kernel));
  KITE_CHECK(o.stride.h > 0 && o.stride.w > 0,
             op << ": stride must be positive, got " << size_str(o.stride));
  KITE_CHECK(o.dilation.h > 0 && o.dilation.w > 0,
             op << ": dilation must be positive, got " << size_str(o.dilation));
  KITE_CHECK(o.padding.h >= 0 && o.padding.w >= 0 && o.padding.h <= o.max_padding_h &&
                 o.padding.w <= o.max_padding_w,
             op << ": padding " << size_str(o.padding) << " must be non-negative and at most half "
                << "the kernel (" << size_str({o.max_padding_h, o.max_padding_w}) << " for kernel "
                << size_str(o.kernel) << ", dilation " << size_str(o.dilation) << ")");
  math::Pool2dGeometry g;
  g.batch = in[0];
  g.channels = in[1];
  g.in_h = in[2];
  g.in_w = in[3];
  g.kernel_h = o.kernel.h;
  g.kernel_w = o.kernel.w;
  g.stride_h = o.stride.h;
  g.stride_w = o.stride.w;
  g.pad_h = o.padding.h;
  g.pad_w = o.padding.w;
  g.dilation_h = o.dilation.h;
  g.dilation_w = o.dilation.w;
  const int64_t extent_h = o.dilation.h * (o.kernel.h - 1) + 1;
  const int64_t extent_w = o.dilation.w * (o.kernel.w - 1) + 1;
  const int64_t padded_h = g.in_h + 2 * g.pad_h, padded_w = g.in_w + 2 * g.pad_w;
  KITE_CHECK(extent_h <= padded_h && extent_w <= padded_w,
             op << ": kernel " << size_str(o.kernel) << " (extent "
                << size_str({extent_h, extent_w}) << ") is larger than the padded input "
                << size_str({padded_h, padded_w}) << " (input " << shape_str(in) << ", padding "
                << size_str(o.padding) << ")");
  g.out_h =
      math::pool_output_size(g.in_h, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h, o.ceil_mode);
  g.out_w =
      math::pool_output_size(g.in_w, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w, o.ceil_mode);
  return g;
}

Size2d stride_or_kernel(Size2d stride, Size2d kernel) {
  return {stride.h == 0 ? kernel.h : stride.h, stride.w == 0 ? kernel.w : stride.w};
}

math::Pool2dGeometry max_geometry(const char* op, const Shape& in, const MaxPool2dOptions& o) {
  const Size2d d = o.dilation;
  return pool_geometry(op, in,
                       {o.kernel, stride_or_kernel(o.stride, o.kernel), o.padding, d, o.ceil_mode,
                        (d.h * (o.kernel.h - 1) + 1) / 2, (d.w * (o.kernel.w - 1) + 1) / 2});
}

math::Pool2dGeometry avg_geometry(const char* op, const Shape& in, const AvgPool2dOptions& o) {
  KITE_CHECK(
      o.divisor_override >= 0,
      op << ": divisor_override must be positive (or 0 for none), got " << o.divisor_override);
  math::Pool2dGeometry g = pool_geometry(op, in,
                                         {o.kernel, stride_or_kernel(o.stride, o.kernel), o.padding,
                                          Size2d(1), o.ceil_mode, o.kernel.h / 2, o.kernel.w / 2});
  g.count_include_pad = o.count_include_pad;
  g.divisor_override = o.divisor_override;
  return g;
}

math::Pool2dGeometry adaptive_geometry(const char* op, const Shape& in, Size2d out) {
  KITE_CHECK(in.size() == 4,
             op << ": expected a 4-D input [N, C, H, W], got shape " << shape_str(in));
  KITE_CHECK(out.h > 0 && out.w > 0, op << ": output size must be positive, got " << size_str(out));
  KITE_CHECK(in[2] > 0 && in[3] > 0, op << ": input " << shape_str(in) << " has an empty plane");
  math::Pool2dGeometry g;
  g.batch = in[0];
  g.channels = in[1];
  g.in_h = in[2];
  g.in_w = in[3];
  g.out_h = out.h;
  g.out_w = out.w;
  return g;
}

Shape output_shape(const math::Pool2dGeometry& g) {
  return {g.batch, g.channels, g.out_h, g.out_w};
}
Shape input_shape(const math::Pool2dGeometry& g) { return {g.batch, g.channels, g.in_h, g.in_w}; }

// grad_output of a backward op must have the forward output's shape.
void check_grad_output(const char* op, const Tensor& grad_output, const math::Pool2dGeometry& g) {
  check_floating_input(op, grad_output, 4, "[N, C, OH, OW]");
  KITE_CHECK(grad_output.shape() == output_shape(g),
             op << ": grad_output " << describe(grad_output) << " should have shape "
                << shape_str(output_shape(g)) << " (the pooled input " << shape_str(input_shape(g))
                << ")");
}

}  // namespace

MaxPool2dResult max_pool2d_with_indices(const Tensor& x, const MaxPool2dOptions& options) {
  check_floating_input("max_pool2d", x, 4, "[N, C, H, W]");
  const math::Pool2dGeometry g = max_geometry("max_pool2d", x.shape(), options);
  MaxPool2dResult r{Tensor::empty(output_shape(g), x.dtype(), x.device()),
                    Tensor::empty(output_shape(g), DType::Int64, x.device())};
  max_pool2d_stub.get(x.device())(contiguous_input(x), g, r.values, r.indices);
  const Tensor indices = r.indices;
  const Shape in_shape = x.shape();
  autograd::record(
      "max_pool2d", {x}, r.values,
      [indices, in_shape](const Tensor& grad, const BackwardContext&) -> std::vector<Tensor> {
        return {max_pool2d_backward(grad, indices, in_shape)};
      });
  return r;
}

Tensor max_pool2d(const Tensor& x, const MaxPool2dOptions& options) {
  return max_pool2d_with_indices(x, options).values;
}

Tensor max_pool2d_backward(const Tensor& grad_output, const Tensor& indices,
                           const Shape& input_shape) {
  const char* op = "max_pool2d_backward";
  check_floating_input(op, grad_output, 4, "[N, C, OH, OW]");
  KITE_CHECK(indices.defined() && indices.dtype() == DType::Int64 &&
                 indices.shape() == grad_output.shape() && indices.device() == grad_output.device(),
             op << ": indices " << describe(indices) << " should be int64 shaped like grad_output "
                << describe(grad_output));
  KITE_CHECK(input_shape.size() == 4 && input_shape[0] == grad_output.size(0) &&
                 input_shape[1] == grad_output.size(1),
             op << ": input shape " << shape_str(input_shape) << " does not match grad_output "
                << describe(grad_output) << " (expected [N, C, H, W] with the same N and C)");
  math::Pool2dGeometry g;
  g.batch = input_shape[0];
  g.channels = input_shape[1];
  g.in_h = input_shape[2];
  g.in_w = input_shape[3];
  g.out_h = grad_output.size(2);
  g.out_w = grad_output.size(3);

  Tensor out = Tensor::empty(input_shape, grad_output.dtype(), grad_output.device());
  max_pool2d_backward_stub.get(out.device())(contiguous_input(grad_output),
                                             contiguous_input(indices), g, out);
  autograd::record(op, {grad_output}, out,
                   [indices, g](const Tensor& grad, const BackwardContext&) -> std::vector<Tensor> {
                     // The adjoint of a scatter is the gather at the same positions.
                     const Tensor picked =
                         gather(reshape(grad, {g.batch, g.channels, g.in_plane()}), 2,
                                reshape(indices, {g.batch, g.channels, g.out_plane()}));
                     return {reshape(picked, {g.batch, g.channels, g.out_h, g.out_w})};
                   });
  return out;
}

Tensor avg_pool2d(const Tensor& x, const AvgPool2dOptions& options) {
  check_floating_input("avg_pool2d", x, 4, "[N, C, H, W]");
  const math::Pool2dGeometry g = avg_geometry("avg_pool2d", x.shape(), options);
  Tensor out = Tensor::empty(output_shape(g), x.dtype(), x.device());
  avg_pool2d_stub.get(x.device())(contiguous_input(x), g, out);
  const Shape in_shape = x.shape();
  autograd::record(
      "avg_pool2d", {x}, out,
      [in_shape, options](const Tensor& grad, const BackwardContext&) -> std::vector<Tensor> {
        return {avg_pool2d_backward(grad, in_shape, options)};
      });
  return out;
}

Tensor avg_pool2d_backward(const Tensor& grad_output, const Shape& input_shape,
                           const AvgPool2dOptions& options) {
  const char* op = "avg_pool2d_backward";
  const math::Pool2dGeometry g = avg_geometry(op, input_shape, options);
  check_grad_output(op, grad_output, g);
  Tensor out = Tensor::empty(input_shape, grad_output.dtype(), grad_output.device());
  avg_pool2d_backward_stub.get(out.device())(contiguous_input(grad_output), g, out);
  autograd::record(op, {grad_output}, out,
                   [options](const Tensor& grad, const BackwardContext&) -> std::vector<Tensor> {
                     return {avg_pool2d(grad, options)};
                   });
  return out;
}

Tensor adaptive_avg_pool2d(const Tensor& x, Size2d output_size) {
  check_floating_input("adaptive_avg_pool2d", x, 4, "[N, C, H, W]");
  const math::Pool2dGeometry g = adaptive_geometry("adaptive_avg_pool2d", x.shape(), output_size);
  Tensor out = Tensor::empty(output_shape(g), x.dtype(), x.device());
  adaptive_avg_pool2d_stub.get(x.device())(contiguous_input(x), g, out);
  const Shape in_shape = x.shape();
  autograd::record("adaptive_avg_pool2d", {x}, out,
                   [in_shape](const Tensor& grad, const BackwardContext&) -> std::vector<Tensor> {
                     return {adaptive_avg_pool2d_backward(grad, in_shape)};
                   });
  return out;
}

Tensor adaptive_avg_pool2d_backward(const Tensor& grad_output, const Shape& input_shape) {
  const char* op = "adaptive_avg_pool2d_backward";
  check_floating_input(op, grad_output, 4, "[N, C, OH, OW]");
  const Size2d out_size(grad_output.size(2), grad_output.size(3));
  const math::Pool2dGeometry g = adaptive_geometry(op, input_shape, out_size);
  check_grad_output(op, grad_output, g);
  Tensor out = Tensor::empty(input_shape, grad_output.dtype(), grad_output.device());
  adaptive_avg_pool2d_backward_stub.get(out.device())(contiguous_input(grad_output), g, out);
  autograd::record(op, {grad_output}, out,
                   [out_size](const Tensor& grad, const BackwardContext&) -> std::vector<Tensor> {
                     return {adaptive_avg_pool2d(grad, out_size)};
                   });
  return out;
}

}  // namespace kite
