// Resampling ops: shape checks, dispatch and backward formulas (see upsample.h).
#include "ops/upsample.h"

#include <string>

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/cpu/upsample.h"
#include "ops/nn_kernels.h"
#include "ops/pool.h"

namespace kite {

DispatchStub<UpsampleNearest2dKernel> upsample_nearest2d_stub{"upsample_nearest2d",
                                                              cpu::upsample_nearest2d_kernel};
DispatchStub<UpsampleBilinear2dKernel> upsample_bilinear2d_stub{"upsample_bilinear2d",
                                                                cpu::upsample_bilinear2d_kernel};
DispatchStub<UpsampleBilinear2dBackwardKernel> upsample_bilinear2d_backward_stub{
    "upsample_bilinear2d_backward", cpu::upsample_bilinear2d_backward_kernel};

namespace {

std::string size_str(Size2d s) { return std::to_string(s.h) + "x" + std::to_string(s.w); }

math::ResampleGeometry resample_geometry(const Shape& in, Size2d out, bool align_corners) {
  math::ResampleGeometry g;
  g.batch = in[0];
  g.channels = in[1];
  g.in_h = in[2];
  g.in_w = in[3];
  g.out_h = out.h;
  g.out_w = out.w;
  g.align_corners = align_corners;
  return g;
}

void check_bilinear_sizes(const char* op, const Shape& in, Size2d out) {
  KITE_CHECK(in.size() == 4,
             op << ": expected a 4-D input [N, C, H, W], got shape " << shape_str(in));
  KITE_CHECK(in[2] > 0 && in[3] > 0, op << ": input " << shape_str(in) << " has an empty plane");
  KITE_CHECK(out.h > 0 && out.w > 0, op << ": output size must be positive, got " << size_str(out));
}

}  // namespace

Tensor upsample_nearest2d(const Tensor& x, Size2d scale) {
  const char* op = "upsample_nearest2d";
  check_floating_input(op, x, 4, "[N, C, H, W]");
  KITE_CHECK(scale.h > 0 && scale.w > 0,
             op << ": scale must be a positive integer, got " << size_str(scale));
  const Shape& in = x.shape();
  const math::ResampleGeometry g = resample_geometry(in, {in[2] * scale.h, in[3] * scale.w}, false);
  Tensor out = Tensor::empty({g.batch, g.channels, g.out_h, g.out_w}, x.dtype(), x.device());
  upsample_nearest2d_stub.get(x.device())(contiguous_input(x), g, out);
  autograd::record(
      op, {x}, out, [scale](const Tensor& grad, const BackwardContext&) -> std::vector<Tensor> {
        // Each input pixel was copied into one scale.h x scale.w block: its gradient is the
        // block's sum, an average pool that divides by 1.
        return {avg_pool2d(grad, {.kernel = scale, .stride = scale, .divisor_override = 1})};
      });
  return out;
}

Tensor upsample_bilinear2d(const Tensor& x, Size2d size, bool align_corners) {
  const char* op = "upsample_bilinear2d";
  check_floating_input(op, x, 4, "[N, C, H, W]");
  check_bilinear_sizes(op, x.shape(), size);
  const math::ResampleGeometry g = resample_geometry(x.shape(), size, align_corners);
  Tensor out = Tensor::empty({g.batch, g.channels, g.out_h, g.out_w}, x.dtype(), x.device());
  upsample_bilinear2d_stub.get(x.device())(contiguous_input(x), g, out);
  const Shape in_shape = x.shape();
  autograd::record(
      op, {x}, out,
      [in_shape, align_corners](const Tensor& grad, const BackwardContext&) -> std::vector<Tensor> {
        return {upsample_bilinear2d_backward(grad, in_shape, align_corners)};
      });
  return out;
}

Tensor upsample_bilinear2d_backward(const Tensor& grad_output, const Shape& input_shape,
                                    bool align_corners) {
  const char* op = "upsample_bilinear2d_backward";
  check_floating_input(op, grad_output, 4, "[N, C, OH, OW]");
  const Size2d size(grad_output.size(2), grad_output.size(3));
  check_bilinear_sizes(op, input_shape, size);
  KITE_CHECK(input_shape[0] == grad_output.size(0) && input_shape[1] == grad_output.size(1),
             op << ": input shape " << shape_str(input_shape) << " does not match grad_output "
                << describe(grad_output) << " (N and C must agree)");
  const math::ResampleGeometry g = resample_geometry(input_shape, size, align_corners);
  Tensor out = Tensor::empty(input_shape, grad_output.dtype(), grad_output.device());
  upsample_bilinear2d_backward_stub.get(out.device())(contiguous_input(grad_output), g, out);
  autograd::record(
      op, {grad_output}, out,
      [size, align_corners](const Tensor& grad, const BackwardContext&) -> std::vector<Tensor> {
        return {upsample_bilinear2d(grad, size, align_corners)};
      });
  return out;
}

}  // namespace kite
