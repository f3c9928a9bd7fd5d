// The fused optimizer steps and the gradient-norm clip (ops/optim_kernels.h): argument
// checks, the per-step scalars, and the call through the dispatch stubs.
//
// These functions write into their tensors in place and record nothing for autograd: they
// are the no-grad part of training. They insist on contiguous tensors of one floating dtype,
// shape and device, so that every kernel is a single flat loop.
#include "ops/optim_kernels.h"

#include <cmath>
#include <utility>
#include <vector>

#include "engine/error.h"
#include "ops/cpu/optim.h"
#include "ops/optim_kernels_dispatch.h"

namespace kite {

DispatchStub<SgdStepFn> sgd_step_stub{"sgd_step_", cpu::sgd_step_kernel};
DispatchStub<AdamStepFn> adam_step_stub{"adam_step_", cpu::adam_step_kernel};
DispatchStub<SumOfSquaresFn> sum_of_squares_stub{"clip_grad_norm_ (sum of squares)",
                                                 cpu::sum_of_squares_kernel};
DispatchStub<ScaleFn> scale_stub{"clip_grad_norm_ (scale)", cpu::scale_kernel};

namespace {

void check_param(const char* op, const Tensor& param) {
  KITE_CHECK(param.defined(), op << ": param is undefined");
  KITE_CHECK(is_floating(param.dtype()),
             op << ": param must be float32 or float64, got " << describe(param));
  KITE_CHECK(param.is_contiguous(), op << ": param must be contiguous, got a strided view "
                                       << describe(param) << " with strides "
                                       << shape_str(param.strides()));
}

// A tensor updated or read alongside param: same dtype, device and shape, contiguous.
void check_companion(const char* op, const char* role, const Tensor& t, const Tensor& param) {
  KITE_CHECK(t.defined(), op << ": " << role << " is undefined");
  KITE_CHECK(t.dtype() == param.dtype(), op << ": " << role << " has dtype "
                                            << dtype_name(t.dtype()) << " but param has "
                                            << dtype_name(param.dtype()));
  KITE_CHECK(t.device() == param.device(), op << ": " << role << " is on " << t.device().str()
                                              << " but param is on " << param.device().str());
  KITE_CHECK(t.shape() == param.shape(), op << ": " << role << " has shape " << shape_str(t.shape())
                                            << " but param has shape " << shape_str(param.shape()));
  KITE_CHECK(t.is_contiguous(), op << ": " << role << " must be contiguous, got a strided view "
                                   << describe(t) << " with strides " << shape_str(t.strides()));
}

// The kernels read and write element i of every tensor together, so no two may share memory.
void check_distinct(const char* op, const std::vector<std::pair<const char*, const Tensor*>>& ts) {
  for (size_t i = 0; i < ts.size(); ++i) {
    for (size_t j = i + 1; j < ts.size(); ++j) {
      const Tensor& a = *ts[i].second;
      const Tensor& b = *ts[j].second;
      KITE_CHECK(a.numel() == 0 || a.storage() != b.storage(),
                 op << ": " << ts[i].first << " and " << ts[j].first << " share storage");
    }
  }
}

void check_hyper(const char* op, const char* name, double value, double lo, bool lo_open, double hi,
                 bool hi_open) {
  const bool above = lo_open ? value > lo : value >= lo;
  const bool below = hi_open ? value < hi : value <= hi;
  KITE_CHECK(std::isfinite(value) && above && below,
             op << ": " << name << " must be in " << (lo_open ? "(" : "[") << lo << ", " << hi
                << (hi_open ? ")" : "]") << ", got " << value);
}

constexpr double kInf = INFINITY;

}  // namespace

void sgd_step_(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
               const SgdParams& p, bool first_step) {
  const char* op = "sgd_step_";
  check_hyper(op, "lr", p.lr, 0.0, false, kInf, true);
  check_hyper(op, "momentum", p.momentum, 0.0, false, kInf, true);
  check_hyper(op, "weight_decay", p.weight_decay, 0.0, false, kInf, true);
  KITE_CHECK(!p.nesterov || p.momentum > 0.0, op << ": nesterov needs momentum > 0");
  check_param(op, param);
  check_companion(op, "grad", grad, param);
  const bool with_momentum = p.momentum != 0.0;
  if (with_momentum) {
    check_companion(op, "momentum_buffer", momentum_buffer, param);
    check_distinct(op, {{"param", &param}, {"grad", &grad}, {"momentum_buffer", &momentum_buffer}});
  } else {
    check_distinct(op, {{"param", &param}, {"grad", &grad}});
  }
  SgdScalars scalars{p.lr, p.momentum, p.weight_decay, p.nesterov, first_step};
  // Without momentum the buffer is not touched, even when the caller passes one.
  sgd_step_stub.get(param.device())(param, grad, with_momentum ? momentum_buffer : Tensor(),
                                    scalars);
}

void adam_step_(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                const Tensor& exp_avg_sq, const AdamParams& p, int64_t step) {
  const char* op = p.decoupled_weight_decay ? "adamw_step_" : "adam_step_";
  check_hyper(op, "lr", p.lr, 0.0, false, kInf, true);
  check_hyper(op, "beta1", p.beta1, 0.0, false, 1.0, true);
  check_hyper(op, "beta2", p.beta2, 0.0, false, 1.0, true);
  check_hyper(op, "eps", p.eps, 0.0, false, kInf, true);
  check_hyper(op, "weight_decay", p.weight_decay, 0.0, false, kInf, true);
  KITE_CHECK(step >= 1, op << ": step counts from 1 (bias correction), got " << step);
  check_param(op, param);
  check_companion(op, "grad", grad, param);
  check_companion(op, "exp_avg", exp_avg, param);
  check_companion(op, "exp_avg_sq", exp_avg_sq, param);
  check_distinct(
      op, {{"param", &param}, {"grad", &grad}, {"exp_avg", &exp_avg}, {"exp_avg_sq", &exp_avg_sq}});
  const AdamScalars scalars =
      adam_scalars(p.lr, p.beta1, p.beta2, p.eps, p.weight_decay, p.decoupled_weight_decay, step);
  adam_step_stub.get(param.device())(param, grad, exp_avg, exp_avg_sq, scalars);
}

double clip_grad_norm_(const std::vector<Tensor>& grads, double max_norm) {
  const char* op = "clip_grad_norm_";
  KITE_CHECK(std::isfinite(max_norm) && max_norm > 0.0,
             op << ": max_norm must be positive and finite, got " << max_norm);
  // Check everything before touching anything, so an error leaves every gradient as it was.
  for (size_t i = 0; i < grads.size(); ++i) {
    const Tensor& g = grads[i];
    if (!g.defined()) continue;  // a parameter that took no part in the loss
    KITE_CHECK(is_floating(g.dtype()),
               op << ": gradient " << i << " must be float32 or float64, got " << describe(g));
    KITE_CHECK(g.is_contiguous(), op << ": gradient " << i << " must be contiguous, got "
                                     << describe(g) << " with strides " << shape_str(g.strides()));
  }
  double sum_of_squares = 0.0;
  for (const Tensor& g : grads) {
    if (g.defined() && g.numel() > 0) sum_of_squares += sum_of_squares_stub.get(g.device())(g);
  }
  const double norm = std::sqrt(sum_of_squares);
  // PyTorch's rule: the small constant keeps the scale finite when the norm is 0.
  const double scale = max_norm / (norm + 1e-6);
  if (scale < 1.0) {
    for (const Tensor& g : grads) {
      if (g.defined() && g.numel() > 0) scale_stub.get(g.device())(g, scale);
    }
  }
  return norm;
}

}  // namespace kite
