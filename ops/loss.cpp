// Losses and the softmax family (ops/loss.h), written as compositions of public ops.
//
// Nothing here has a kernel or a backward formula of its own: every loss is a few
// elementwise ops and a reduction, so autograd differentiates it through those ops, and
// gradients of gradients come for free. What this file adds is the numerically stable form
// of each formula and the input checks, with messages that name the loss.
#include "ops/loss.h"

#include <cmath>
#include <numbers>

#include "engine/error.h"
#include "ops/activations.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace kite {
namespace {

void check_floating(const char* op, const char* role, const Tensor& t) {
  KITE_CHECK(t.defined(), op << ": " << role << " is undefined");
  KITE_CHECK(is_floating(t.dtype()),
             op << ": " << role << " must be float32 or float64, got " << describe(t));
}

// Losses combine their inputs elementwise: one dtype, one device.
void check_compatible(const char* op, const char* role_a, const Tensor& a, const char* role_b,
                      const Tensor& b) {
  check_floating(op, role_a, a);
  check_floating(op, role_b, b);
  KITE_CHECK(a.dtype() == b.dtype() && a.device() == b.device(),
             op << ": " << role_a << " " << describe(a) << " and " << role_b << " " << describe(b)
                << " must have the same dtype and device");
}

// No silent broadcasting between a prediction and its target: a [N] target against an [N, 1]
// prediction would otherwise compare every pair and return a meaningless number.
void check_same_shape(const char* op, const char* role_a, const Tensor& a, const char* role_b,
                      const Tensor& b) {
  KITE_CHECK(a.shape() == b.shape(), op << ": " << role_a << " shape " << shape_str(a.shape())
                                        << " and " << role_b << " shape " << shape_str(b.shape())
                                        << " differ");
}

Tensor reduce(const Tensor& per_element, Reduction reduction) {
  switch (reduction) {
    case Reduction::Mean:
      return mean(per_element);
    case Reduction::Sum:
      return sum(per_element);
    case Reduction::None:
      return per_element;
  }
  KITE_FAIL("loss: unknown reduction");
}

int64_t class_axis(const char* op, const Tensor& x, int64_t axis) {
  check_floating(op, "input", x);
  KITE_CHECK(x.dim() >= 1, op << ": input must have at least one axis, got " << describe(x));
  return normalize_axis(axis, x.dim(), op);
}

}  // namespace

// x - logsumexp(x): logsumexp subtracts the maximum before exponentiating, so large logits
// do not overflow, and the result is exactly shift-invariant like the true function.
Tensor log_softmax(const Tensor& x, int64_t axis) {
  const int64_t a = class_axis("log_softmax", x, axis);
  return x - logsumexp(x, {a}, /*keepdim=*/true);
}

Tensor softmax(const Tensor& x, int64_t axis) {
  const int64_t a = class_axis("softmax", x, axis);
  return exp(log_softmax(x, a));
}

Tensor mse_loss(const Tensor& prediction, const Tensor& target, Reduction reduction) {
  const char* op = "mse_loss";
  check_compatible(op, "prediction", prediction, "target", target);
  check_same_shape(op, "prediction", prediction, "target", target);
  return reduce(square(prediction - target), reduction);
}

// -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] = softplus(x) - x t, and softplus is
// computed as max(x, 0) + log1p(exp(-|x|)). Using softplus rather than spelling out the max
// and |x| keeps the gradient (sigmoid(x) - t) right at x = 0 exactly, where the kinks of max
// and abs would each contribute a one-sided derivative; zero-initialised output layers give
// logits of exactly 0.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  check_compatible(op, "logits", logits, "target", target);
  check_same_shape(op, "logits", logits, "target", target);
  return reduce(softplus(logits) - logits * target, reduction);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, Reduction reduction) {
  const char* op = "cross_entropy";
  check_floating(op, "logits", logits);
  KITE_CHECK(logits.dim() == 2, op << ": logits must be 2-D [N, C], got " << describe(logits));
  KITE_CHECK(labels.defined(), op << ": labels are undefined");
  KITE_CHECK(labels.dtype() == DType::Int64,
             op << ": labels must be int64 class indices, got " << describe(labels));
  KITE_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0),
             op << ": labels must be 1-D with one label per row of logits, got labels "
                << shape_str(labels.shape()) << " for logits " << shape_str(logits.shape()));
  KITE_CHECK(labels.device() == logits.device(), op << ": labels on " << labels.device().str()
                                                    << " but logits on " << logits.device().str());
  const int64_t classes = logits.size(1);
  const std::vector<int64_t> values = to_int64_vector(labels);
  for (size_t i = 0; i < values.size(); ++i) {
    KITE_CHECK(values[i] >= 0 && values[i] < classes, op << ": label " << values[i] << " at row "
                                                         << i << " is out of range [0, " << classes
                                                         << ")");
  }
  const Tensor log_probs = log_softmax(logits, 1);
  const Tensor picked = gather(log_probs, 1, unsqueeze(labels, 1));  // [N, 1]
  return reduce(-squeeze(picked, 1), reduction);
}

// 0.5 (log_var + (x - mean)^2 exp(-log_var) + log(2 pi)). log_var may be broadcast to x's
// shape (a single learned decoder variance, as in the 2-stage VAE); x and mean may not.
Tensor gaussian_nll(const Tensor& x, const Tensor& mean, const Tensor& log_var,
                    Reduction reduction) {
  const char* op = "gaussian_nll";
  check_compatible(op, "x", x, "mean", mean);
  check_compatible(op, "x", x, "log_var", log_var);
  check_same_shape(op, "x", x, "mean", mean);
  const Shape joint = broadcast_shapes(x.shape(), log_var.shape(), op);
  KITE_CHECK(joint == x.shape(), op << ": log_var shape " << shape_str(log_var.shape())
                                    << " does not broadcast to x shape " << shape_str(x.shape()));
  const double log_two_pi = std::log(2.0 * std::numbers::pi);
  const Tensor per_element = 0.5 * (log_var + square(x - mean) * exp(-log_var) + log_two_pi);
  return reduce(per_element, reduction);
}

Tensor kl_normal(const Tensor& mu, const Tensor& log_var, Reduction reduction) {
  const char* op = "kl_normal";
  check_compatible(op, "mu", mu, "log_var", log_var);
  check_same_shape(op, "mu", mu, "log_var", log_var);
  return reduce(0.5 * (square(mu) + exp(log_var) - 1.0 - log_var), reduction);
}

}  // namespace kite
