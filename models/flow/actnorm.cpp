// ActNorm (see actnorm.h).
#include "models/flow/actnorm.h"

#include "engine/autograd.h"
#include "ops/ops.h"

namespace kite::flow {

ActNorm::ActNorm(int64_t features, DType dtype) {
  bias = zeros({features}, dtype);
  log_scale = zeros({features}, dtype);
  initialized_flag = zeros({}, dtype);
  register_parameter("bias", &bias);
  register_parameter("log_scale", &log_scale);
  register_buffer("initialized", &initialized_flag);
}

bool ActNorm::initialized() const { return initialized_flag.item<double>() != 0.0; }

void ActNorm::initialize(const Tensor& x) {
  NoGradGuard no_grad;
  Tensor m = mean(x, {0});
  Tensor v = x.size(0) > 1 ? var(x, {0}, false) : ones_like(m);
  copy_(bias, -m);
  copy_(log_scale, log(maximum(v, full_like(v, 0.2))) * -0.5);
  fill_(initialized_flag, 1.0);
}

Tensor ActNorm::forward(const Tensor& x, Tensor* logdet) {
  KITE_CHECK(x.dim() == 2 && x.size(1) == bias.size(0),
             "ActNorm: expected input [batch, " << bias.size(0) << "], got " << describe(x));
  if (!initialized() && is_training()) initialize(x.detach());
  if (logdet) *logdet = expand(sum(log_scale), {x.size(0)});
  return (x + bias) * exp(log_scale);
}

Tensor ActNorm::inverse(const Tensor& y) { return y * exp(-log_scale) - bias; }

}  // namespace kite::flow
