// conv2d, conv_transpose2d and conv2d_weight_grad: shape checks, geometry, dispatch, and
// backward formulas written in each other (see conv.h). Also the checks shared by the
// spatial ops (declared in nn_kernels.h).
#include "ops/conv.h"

#include <sstream>

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/cpu/conv.h"
#include "ops/nn_kernels.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace kite {

DispatchStub<Conv2dKernel> conv2d_stub{"conv2d", cpu::conv2d_kernel};
DispatchStub<ConvTranspose2dKernel> conv_transpose2d_stub{"conv_transpose2d",
                                                          cpu::conv_transpose2d_kernel};
DispatchStub<Conv2dWeightGradKernel> conv2d_weight_grad_stub{"conv2d_weight_grad",
                                                             cpu::conv2d_weight_grad_kernel};

// ---- checks shared by the spatial ops ----

void check_floating_input(const char* op, const Tensor& x, int64_t dims, const char* layout) {
  KITE_CHECK(x.defined(), op << ": input is undefined");
  KITE_CHECK(is_floating(x.dtype()),
             op << ": expected a floating input (float32 or float64), got " << describe(x));
  KITE_CHECK(x.dim() == dims,
             op << ": expected a " << dims << "-D input " << layout << ", got " << describe(x));
}

void check_same_kind(const char* op, const Tensor& x, const Tensor& other, const char* what) {
  if (!other.defined()) return;
  KITE_CHECK(other.dtype() == x.dtype() && other.device() == x.device(),
             op << ": " << what << " " << describe(other) << " does not match the input "
                << describe(x) << " (dtype and device must agree)");
}

Tensor contiguous_input(const Tensor& t) {
  if (!t.defined() || t.is_contiguous()) return t;
  NoGradGuard no_grad;  // a copy for the kernel to read, not part of the graph
  return contiguous(t);
}

namespace {

std::string size_str(Size2d s) { return std::to_string(s.h) + "x" + std::to_string(s.w); }

std::string padding_str(const Padding2d& p) {
  std::ostringstream out;
  out << "padding (top " << p.top << ", bottom " << p.bottom << ", left " << p.left << ", right "
      << p.right << ")";
  return out.str();
}

void check_options(const char* op, Size2d stride, const Padding2d& padding, Size2d dilation,
                   int64_t groups) {
  KITE_CHECK(stride.h > 0 && stride.w > 0,
             op << ": stride must be positive, got " << size_str(stride));
  KITE_CHECK(dilation.h > 0 && dilation.w > 0,
             op << ": dilation must be positive, got " << size_str(dilation));
  KITE_CHECK(padding.top >= 0 && padding.bottom >= 0 && padding.left >= 0 && padding.right >= 0,
             op << ": " << padding_str(padding) << " must not be negative");
  KITE_CHECK(groups > 0, op << ": groups must be positive, got " << groups);
}

// The geometry of conv2d(input of in_shape, weight of weight_shape), validated.
math::ConvGeometry conv_geometry(const char* op, const Shape& in_shape, const Shape& weight_shape,
                                 const Conv2dOptions& o) {
  check_options(op, o.stride, o.padding, o.dilation, o.groups);
  KITE_CHECK(weight_shape.size() == 4, op << ": expected a 4-D weight [out_channels, in_channels / "
                                             "groups, kh, kw], got shape "
                                          << shape_str(weight_shape));
  for (int64_t s : weight_shape)
    KITE_CHECK(s >= 0,
               op << ": weight shape " << shape_str(weight_shape) << " has a negative size");
  math::ConvGeometry g;
  g.batch = in_shape[0];
  g.in_channels = in_shape[1];
  g.in_h = in_shape[2];
  g.in_w = in_shape[3];
  g.out_channels = weight_shape[0];
  g.kernel_h = weight_shape[2];
  g.kernel_w = weight_shape[3];
  g.stride_h = o.stride.h;
  g.stride_w = o.stride.w;
  g.pad_top = o.padding.top;
  g.pad_left = o.padding.left;
  g.dilation_h = o.dilation.h;
  g.dilation_w = o.dilation.w;
  g.groups = o.groups;
  KITE_CHECK(g.kernel_h > 0 && g.kernel_w > 0,
             op << ": weight shape " << shape_str(weight_shape) << " has an empty kernel");
  KITE_CHECK(g.in_channels % g.groups == 0 && g.out_channels % g.groups == 0,
             op << ": groups = " << g.groups << " must divide the input channels (input "
                << shape_str(in_shape) << ") and the output channels (weight "
                << shape_str(weight_shape) << ")");
  KITE_CHECK(weight_shape[1] * g.groups == g.in_channels,
             op << ": input " << shape_str(in_shape) << " has " << g.in_channels
                << " channels but weight " << shape_str(weight_shape)
                << " with groups = " << g.groups << " expects " << weight_shape[1] * g.groups);
  const int64_t padded_h = g.in_h + o.padding.top + o.padding.bottom;
  const int64_t padded_w = g.in_w + o.padding.left + o.padding.right;
  const int64_t extent_h = math::dilated_kernel_size(g.kernel_h, g.dilation_h);
  const int64_t extent_w = math::dilated_kernel_size(g.kernel_w, g.dilation_w);
  KITE_CHECK(extent_h <= padded_h && extent_w <= padded_w,
             op << ": kernel " << size_str({g.kernel_h, g.kernel_w}) << " with dilation "
                << size_str(o.dilation) << " spans " << size_str({extent_h, extent_w})
                << ", larger than the padded input " << size_str({padded_h, padded_w}) << " (input "
                << shape_str(in_shape) << ", " << padding_str(o.padding) << ")");
  g.out_h = math::conv_output_size(g.in_h, o.padding.top, o.padding.bottom, g.kernel_h, g.stride_h,
                                   g.dilation_h);
  g.out_w = math::conv_output_size(g.in_w, o.padding.left, o.padding.right, g.kernel_w, g.stride_w,
                                   g.dilation_w);
  return g;
}

void check_bias(const char* op, const Tensor& x, const Tensor& bias, int64_t channels) {
  if (!bias.defined()) return;
  check_same_kind(op, x, bias, "bias");
  KITE_CHECK(bias.dim() == 1 && bias.size(0) == channels,
             op << ": bias " << describe(bias) << " should have shape [" << channels << "]");
}

// The conv_transpose2d that inverts the shape of conv2d with geometry g (maps out_h back to
// in_h): output_padding takes up the rows the stride skipped.
ConvTranspose2dOptions transpose_of(const Conv2dOptions& o, const math::ConvGeometry& g) {
  const int64_t span_h = g.in_h + o.padding.top + o.padding.bottom -
                         math::dilated_kernel_size(g.kernel_h, g.dilation_h);
  const int64_t span_w = g.in_w + o.padding.left + o.padding.right -
                         math::dilated_kernel_size(g.kernel_w, g.dilation_w);
  return {o.stride, o.padding, Size2d(span_h % o.stride.h, span_w % o.stride.w), o.dilation,
          o.groups};
}

Conv2dOptions conv_of(const ConvTranspose2dOptions& o) {
  return {o.stride, o.padding, o.dilation, o.groups};
}

Shape input_shape_of(const math::ConvGeometry& g) {
  return {g.batch, g.in_channels, g.in_h, g.in_w};
}
Shape output_shape_of(const math::ConvGeometry& g) {
  return {g.batch, g.out_channels, g.out_h, g.out_w};
}

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options) {
  check_floating_input("conv2d", input, 4, "[N, C, H, W]");
  KITE_CHECK(weight.defined(), "conv2d: weight is undefined");
  check_same_kind("conv2d", input, weight, "weight");
  const math::ConvGeometry g = conv_geometry("conv2d", input.shape(), weight.shape(), options);
  check_bias("conv2d", input, bias, g.out_channels);

  Tensor out = Tensor::empty(output_shape_of(g), input.dtype(), input.device());
  conv2d_stub.get(input.device())(contiguous_input(input), contiguous_input(weight),
                                  contiguous_input(bias), g, out);
  autograd::record(
      "conv2d", {input, weight, bias}, out,
      [input, weight, options, g](const Tensor& grad,
                                  const BackwardContext& ctx) -> std::vector<Tensor> {
        return {
            ctx.needs_grad(0) ? conv_transpose2d(grad, weight, Tensor(), transpose_of(options, g))
                              : Tensor(),
            ctx.needs_grad(1) ? conv2d_weight_grad(input, grad, weight.shape(), options) : Tensor(),
            ctx.needs_grad(2) ? sum(grad, {0, 2, 3}) : Tensor()};
      });
  return out;
}

Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const ConvTranspose2dOptions& options) {
  const char* op = "conv_transpose2d";
  check_floating_input(op, input, 4, "[N, C, H, W]");
  KITE_CHECK(weight.defined(), op << ": weight is undefined");
  check_same_kind(op, input, weight, "weight");
  check_options(op, options.stride, options.padding, options.dilation, options.groups);
  KITE_CHECK(weight.dim() == 4, op << ": expected a 4-D weight [in_channels, out_channels / "
                                      "groups, kh, kw], got "
                                   << describe(weight));
  const Shape& in = input.shape();
  const Shape& ws = weight.shape();
  KITE_CHECK(ws[0] == in[1], op << ": input " << shape_str(in) << " has " << in[1]
                                << " channels but weight " << shape_str(ws) << " expects "
                                << ws[0]);
  KITE_CHECK(in[1] % options.groups == 0, op << ": groups = " << options.groups
                                             << " must divide the input channels (input "
                                             << shape_str(in) << ")");
  const Size2d op_pad = options.output_padding;
  KITE_CHECK(
      op_pad.h >= 0 && op_pad.w >= 0 && op_pad.h < options.stride.h && op_pad.w < options.stride.w,
      op << ": output_padding " << size_str(op_pad) << " must be non-negative and smaller "
         << "than the stride " << size_str(options.stride));
  const int64_t out_h =
      math::conv_transpose_output_size(in[2], options.padding.top, options.padding.bottom, ws[2],
                                       options.stride.h, options.dilation.h, op_pad.h);
  const int64_t out_w =
      math::conv_transpose_output_size(in[3], options.padding.left, options.padding.right, ws[3],
                                       options.stride.w, options.dilation.w, op_pad.w);
  KITE_CHECK(out_h > 0 && out_w > 0, op << ": output size " << size_str({out_h, out_w})
                                        << " is not positive (input " << shape_str(in)
                                        << ", weight " << shape_str(ws) << ", "
                                        << padding_str(options.padding) << ")");
  // The geometry of the conv2d this op is the adjoint of: its input is our output.
  const Conv2dOptions conv = conv_of(options);
  const Shape conv_weight_shape = {ws[0], ws[1], ws[2], ws[3]};
  const math::ConvGeometry g =
      conv_geometry(op, {in[0], ws[1] * options.groups, out_h, out_w}, conv_weight_shape, conv);
  KITE_CHECK(g.out_h == in[2] && g.out_w == in[3],
             op << ": internal shape mismatch: conv2d of the output gives " << g.out_h << "x"
                << g.out_w << ", input is " << in[2] << "x" << in[3]);
  check_bias(op, input, bias, g.in_channels);

  Tensor out = Tensor::empty(input_shape_of(g), input.dtype(), input.device());
  conv_transpose2d_stub.get(input.device())(contiguous_input(input), contiguous_input(weight),
                                            contiguous_input(bias), g, out);
  autograd::record(
      op, {input, weight, bias}, out,
      [input, weight, conv](const Tensor& grad, const BackwardContext& ctx) -> std::vector<Tensor> {
        return {
            ctx.needs_grad(0) ? conv2d(grad, weight, Tensor(), conv) : Tensor(),
            ctx.needs_grad(1) ? conv2d_weight_grad(grad, input, weight.shape(), conv) : Tensor(),
            ctx.needs_grad(2) ? sum(grad, {0, 2, 3}) : Tensor()};
      });
  return out;
}

Tensor conv2d_weight_grad(const Tensor& input, const Tensor& grad_output, const Shape& weight_shape,
                          const Conv2dOptions& options) {
  const char* op = "conv2d_weight_grad";
  check_floating_input(op, input, 4, "[N, C, H, W]");
  KITE_CHECK(grad_output.defined(), op << ": grad_output is undefined");
  check_same_kind(op, input, grad_output, "grad_output");
  const math::ConvGeometry g = conv_geometry(op, input.shape(), weight_shape, options);
  KITE_CHECK(grad_output.shape() == output_shape_of(g),
             op << ": grad_output " << describe(grad_output) << " should have shape "
                << shape_str(output_shape_of(g)) << " (the conv2d output for input "
                << shape_str(input.shape()) << " and weight " << shape_str(weight_shape) << ")");

  Tensor out = Tensor::empty(weight_shape, input.dtype(), input.device());
  conv2d_weight_grad_stub.get(input.device())(contiguous_input(input),
                                              contiguous_input(grad_output), g, out);
  autograd::record(op, {input, grad_output}, out,
                   [input, grad_output, options, g](
                       const Tensor& grad, const BackwardContext& ctx) -> std::vector<Tensor> {
                     return {ctx.needs_grad(0) ? conv_transpose2d(grad_output, grad, Tensor(),
                                                                  transpose_of(options, g))
                                               : Tensor(),
                             ctx.needs_grad(1) ? conv2d(input, grad, Tensor(), options) : Tensor()};
                   });
  return out;
}

}  // namespace kite
