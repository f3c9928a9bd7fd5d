// Normalisation ops: checks, the fused forward kernels, running statistics, and the backward
// formulas (see norm.h).
//
// Backward, for xhat = (x - mean) * invstd normalised over a set of elements of size M and
// y = xhat * w + b:
//   dxhat = dy * w
//   dx    = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))   (means over the set)
//   dw    = sum(dy * xhat), db = sum(dy)                              (over all but w's axes)
// Written with public ops, with mean and invstd recomputed from x, this is differentiable in
// x, w and dy, so create_graph gives second derivatives. When nothing records the backward
// (grad mode off, the usual backward), each op runs the same formula as a fused kernel over
// the statistics of its forward instead: two passes instead of a dozen ops (measured 5-10x
// faster for group and layer norm).
#include "ops/norm.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/cpu/norm.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/nn_kernels.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace kite {

DispatchStub<NormMomentsKernel> norm_moments_stub{"norm_moments", cpu::norm_moments_kernel};
DispatchStub<NormApplyKernel> norm_apply_stub{"norm_apply", cpu::norm_apply_kernel};
DispatchStub<BatchNormBackwardKernel> batch_norm_backward_stub{"batch_norm_backward",
                                                               cpu::batch_norm_backward_kernel};
DispatchStub<NormBackwardKernel> norm_backward_stub{"norm_backward", cpu::norm_backward_kernel};

namespace {

using BackwardKernelRef = BatchNormBackwardKernel;

// Checks an optional per-channel (or per-position) parameter: defined tensors must match
// x's dtype and device and have `shape`.
void check_param(const char* op, const Tensor& x, const Tensor& t, const char* what,
                 const Shape& shape) {
  if (!t.defined()) return;
  check_same_kind(op, x, t, what);
  KITE_CHECK(t.shape() == shape, op << ": " << what << " " << describe(t) << " should have shape "
                                    << shape_str(shape) << " for input " << describe(x));
}

// mean and (biased) variance of each group of the layout, from the device's kernel.
struct Moments {
  Tensor mean, var;
};
Moments moments_of(const Tensor& xc, const math::NormLayout& layout) {
  Moments m{Tensor::empty({layout.groups}, xc.dtype(), xc.device()),
            Tensor::empty({layout.groups}, xc.dtype(), xc.device())};
  if (layout.numel() > 0) norm_moments_stub.get(xc.device())(xc, layout, m.mean, m.var);
  return m;
}

Tensor apply_norm(const Tensor& xc, const Tensor& mean, const Tensor& var, const Tensor& weight,
                  const Tensor& bias, const math::NormLayout& layout, double eps) {
  Tensor out = Tensor::empty(xc.shape(), xc.dtype(), xc.device());
  if (layout.numel() > 0)
    norm_apply_stub.get(xc.device())(xc, mean, var, contiguous_input(weight),
                                     contiguous_input(bias), layout, eps, out);
  return out;
}

// t [C] as [1, C, 1, ...] with `dims` axes, to broadcast against an [N, C, *] input.
Tensor channel_view(const Tensor& t, int64_t dims) {
  Shape shape(dims, 1);
  shape[1] = t.numel();
  return reshape(t, shape);
}

// Every axis but 1 (the channel axis) of a `dims`-D tensor.
Axes all_but_channels(int64_t dims) {
  Axes axes{0};
  for (int64_t d = 2; d < dims; ++d) axes.push_back(d);
  return axes;
}

// Every axis in [begin, end).
Axes axis_range(int64_t begin, int64_t end) {
  Axes axes;
  for (int64_t d = begin; d < end; ++d) axes.push_back(d);
  return axes;
}

// dx of y = xhat * w + b, where xhat normalises `xs` (x reshaped so that `axes` are one
// normalisation set), with dxhat = dy * w already formed (in xs's shape).
Tensor normalized_input_grad(const Tensor& xs, const Tensor& dxhat, const Axes& axes, double eps) {
  const Tensor centred = xs - mean(xs, axes, true);
  const Tensor invstd = rsqrt(mean(square(centred), axes, true) + eps);
  const Tensor xhat = centred * invstd;
  return invstd * (dxhat - mean(dxhat, axes, true) - xhat * mean(dxhat * xhat, axes, true));
}

// xhat of x normalised over `axes` (differentiable in x).
Tensor normalized(const Tensor& xs, const Axes& axes, double eps) {
  const Tensor centred = xs - mean(xs, axes, true);
  return centred * rsqrt(mean(square(centred), axes, true) + eps);
}

// The fused backward of a normalisation over `layout` (grad mode off: nothing records it),
// for the statistics the forward computed. Returns {dx, dw, db}, each only where needed;
// dw and db have param_shape (the weight's and bias's shape).
std::vector<Tensor> fused_norm_backward(const BackwardKernelRef& kernel, const Tensor& grad,
                                        const Tensor& x, const Tensor& weight, const Tensor& mean,
                                        const Tensor& var, const math::NormLayout& layout,
                                        double eps, const Shape& param_shape,
                                        const BackwardContext& ctx) {
  // The kernels write every parameter gradient they sum into; over an empty input there is
  // nothing to sum and they write none, so those start at zero.
  const auto param_grad = [&](bool needed) {
    if (!needed) return Tensor();
    return x.numel() == 0 ? zeros(param_shape, x.dtype(), x.device())
                          : Tensor::empty(param_shape, x.dtype(), x.device());
  };
  Tensor dx = ctx.needs_grad(0) ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
  Tensor dw = param_grad(ctx.needs_grad(1));
  Tensor db = param_grad(ctx.needs_grad(2));
  kernel(contiguous_input(grad), contiguous_input(x), mean, var, contiguous_input(weight), layout,
         eps, dx, dw, db);
  return {dx, dw, db};
}

// running = (1 - momentum) * running + momentum * batch, in place, without grad.
void update_running(const Tensor& running, const Tensor& batch, double momentum) {
  NoGradGuard no_grad;
  copy_(running, running * (1.0 - momentum) + batch * momentum);
}

Tensor batch_norm_training(const Tensor& x, const Tensor& weight, const Tensor& bias,
                           const Tensor& running_mean, const Tensor& running_var, double momentum,
                           double eps, const math::NormLayout& layout) {
  const int64_t count = layout.group_size();
  KITE_CHECK(count > 1,
             "batch_norm: expected more than 1 value per channel when training, got "
             "input "
                 << describe(x));
  const Tensor xc = contiguous_input(x);
  const Moments m = moments_of(xc, layout);
  Tensor out = apply_norm(xc, m.mean, m.var, weight, bias, layout, eps);
  if (running_mean.defined()) update_running(running_mean, m.mean, momentum);
  if (running_var.defined()) {
    NoGradGuard no_grad;  // the running variance is the unbiased one
    update_running(running_var, m.var * (double(count) / double(count - 1)), momentum);
  }
  const Tensor mean = m.mean, var = m.var;
  autograd::record(
      "batch_norm", {x, weight, bias}, out,
      [x, weight, mean, var, eps, layout](const Tensor& grad,
                                          const BackwardContext& ctx) -> std::vector<Tensor> {
        const Axes axes = all_but_channels(x.dim());
        if (!grad_enabled()) {
          // Nothing records this backward: two fused passes over the saved statistics.
          return fused_norm_backward(batch_norm_backward_stub.get(x.device()), grad, x, weight,
                                     mean, var, layout, eps, {x.size(1)}, ctx);
        }
        const Tensor dxhat = weight.defined() ? grad * channel_view(weight, x.dim()) : grad;
        return {ctx.needs_grad(0) ? normalized_input_grad(x, dxhat, axes, eps) : Tensor(),
                ctx.needs_grad(1) ? sum(grad * normalized(x, axes, eps), axes) : Tensor(),
                ctx.needs_grad(2) ? sum(grad, axes) : Tensor()};
      });
  return out;
}

Tensor batch_norm_eval(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, double eps,
                       const math::NormLayout& layout) {
  KITE_CHECK(running_mean.defined() && running_var.defined(),
             "batch_norm: evaluation mode needs running_mean and running_var");
  // Copies: the statistics may be updated in place before this backward runs.
  Tensor mean, var;
  {
    NoGradGuard no_grad;
    mean = clone(running_mean);
    var = clone(running_var);
  }
  Tensor out = apply_norm(contiguous_input(x), mean, var, weight, bias, layout, eps);
  autograd::record(
      "batch_norm", {x, weight, bias}, out,
      [x, weight, mean, var, eps](const Tensor& grad,
                                  const BackwardContext& ctx) -> std::vector<Tensor> {
        const int64_t dims = x.dim();
        const Axes axes = all_but_channels(dims);
        const Tensor invstd = channel_view(rsqrt(var + eps), dims);
        const Tensor scale = weight.defined() ? invstd * channel_view(weight, dims) : invstd;
        return {ctx.needs_grad(0) ? grad * scale : Tensor(),
                ctx.needs_grad(1) ? sum(grad * ((x - channel_view(mean, dims)) * invstd), axes)
                                  : Tensor(),
                ctx.needs_grad(2) ? sum(grad, axes) : Tensor()};
      });
  return out;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum, double eps) {
  const char* op = "batch_norm";
  KITE_CHECK(
      x.defined() && is_floating(x.dtype()) && x.dim() >= 2,
      op << ": expected a floating input [N, C, *] with at least 2 axes, got " << describe(x));
  KITE_CHECK(eps >= 0, op << ": eps must be non-negative, got " << eps);
  const int64_t channels = x.size(1);
  check_param(op, x, weight, "weight", {channels});
  check_param(op, x, bias, "bias", {channels});
  check_param(op, x, running_mean, "running_mean", {channels});
  check_param(op, x, running_var, "running_var", {channels});

  math::NormLayout layout;
  layout.outer = x.size(0);
  layout.groups = channels;
  layout.inner = x.numel() / std::max<int64_t>(1, layout.outer * channels);
  layout.weight_mod = std::max<int64_t>(1, channels);
  layout.weight_div = std::max<int64_t>(1, layout.inner);
  if (training)
    return batch_norm_training(x, weight, bias, running_mean, running_var, momentum, eps, layout);
  return batch_norm_eval(x, weight, bias, running_mean, running_var, eps, layout);
}

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                  double eps) {
  const char* op = "group_norm";
  KITE_CHECK(
      x.defined() && is_floating(x.dtype()) && x.dim() >= 2,
      op << ": expected a floating input [N, C, *] with at least 2 axes, got " << describe(x));
  KITE_CHECK(eps >= 0, op << ": eps must be non-negative, got " << eps);
  const int64_t n = x.size(0), channels = x.size(1);
  KITE_CHECK(groups > 0 && channels % groups == 0,
             op << ": groups = " << groups << " must be positive and divide the " << channels
                << " channels of input " << describe(x));
  check_param(op, x, weight, "weight", {channels});
  check_param(op, x, bias, "bias", {channels});

  math::NormLayout layout;
  layout.outer = 1;
  layout.groups = n * groups;
  const int64_t spatial = x.numel() / std::max<int64_t>(1, n * channels);
  layout.inner = channels / groups * spatial;
  layout.weight_mod = groups;
  layout.weight_div = std::max<int64_t>(1, spatial);

  const Tensor xc = contiguous_input(x);
  const Moments m = moments_of(xc, layout);
  Tensor out = apply_norm(xc, m.mean, m.var, weight, bias, layout, eps);
  autograd::record(
      op, {x, weight, bias}, out,
      [x, weight, groups, eps, layout, mean = m.mean, var = m.var](
          const Tensor& grad, const BackwardContext& ctx) -> std::vector<Tensor> {
        if (!grad_enabled() && norm_backward_stub.has(x.device().type))
          return fused_norm_backward(norm_backward_stub.get(x.device()), grad, x, weight, mean, var,
                                     layout, eps, {x.size(1)}, ctx);
        const int64_t dims = x.dim();
        const Shape grouped = {x.size(0), groups, -1};
        const Axes set = {2};
        const Axes axes = all_but_channels(dims);
        Tensor dx, dw;
        if (ctx.needs_grad(0)) {
          const Tensor dxhat = weight.defined() ? grad * channel_view(weight, dims) : grad;
          dx =
              reshape(normalized_input_grad(reshape(x, grouped), reshape(dxhat, grouped), set, eps),
                      x.shape());
        }
        if (ctx.needs_grad(1))
          dw = sum(grad * reshape(normalized(reshape(x, grouped), set, eps), x.shape()), axes);
        return {dx, dw, ctx.needs_grad(2) ? sum(grad, axes) : Tensor()};
      });
  return out;
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  const char* op = "layer_norm";
  KITE_CHECK(x.defined() && is_floating(x.dtype()),
             op << ": expected a floating input, got " << describe(x));
  KITE_CHECK(eps >= 0, op << ": eps must be non-negative, got " << eps);
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  bool trailing = k > 0 && k <= x.dim();
  for (int64_t i = 0; trailing && i < k; ++i)
    trailing = x.size(x.dim() - k + i) == normalized_shape[i];
  KITE_CHECK(trailing, op << ": normalized_shape " << shape_str(normalized_shape)
                          << " must be non-empty and equal the trailing axes of input "
                          << describe(x));
  check_param(op, x, weight, "weight", normalized_shape);
  check_param(op, x, bias, "bias", normalized_shape);

  math::NormLayout layout;
  layout.inner = numel_of(normalized_shape);
  layout.groups = layout.inner > 0 ? x.numel() / layout.inner : 0;

  const Tensor xc = contiguous_input(x);
  const Moments m = moments_of(xc, layout);
  Tensor out = apply_norm(xc, m.mean, m.var, weight, bias, layout, eps);
  autograd::record(
      op, {x, weight, bias}, out,
      [x, weight, k, eps, layout, normalized_shape, mean = m.mean, var = m.var](
          const Tensor& grad, const BackwardContext& ctx) -> std::vector<Tensor> {
        if (!grad_enabled() && norm_backward_stub.has(x.device().type))
          return fused_norm_backward(norm_backward_stub.get(x.device()), grad, x, weight, mean, var,
                                     layout, eps, normalized_shape, ctx);
        const Axes set = axis_range(x.dim() - k, x.dim());
        const Axes leading = axis_range(0, x.dim() - k);
        Tensor dx, dw;
        if (ctx.needs_grad(0))
          dx = normalized_input_grad(x, weight.defined() ? grad * weight : grad, set, eps);
        // (With no leading axes there is nothing to sum over: sum({}) would sum everything.)
        auto over_rows = [&](const Tensor& t) { return leading.empty() ? t : sum(t, leading); };
        if (ctx.needs_grad(1)) dw = over_rows(grad * normalized(x, set, eps));
        return {dx, dw, ctx.needs_grad(2) ? over_rows(grad) : Tensor()};
      });
  return out;
}

}  // namespace kite
