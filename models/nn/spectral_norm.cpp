// Spectral normalisation by power iteration (see spectral_norm.h).
#include "models/nn/spectral_norm.h"

#include "engine/autograd.h"
#include "models/nn/init.h"
#include "ops/ops.h"

namespace kite::nn {
namespace {

Tensor normalize(const Tensor& x) { return x / (norm(x) + 1e-12); }

}  // namespace

SNLinear::SNLinear(int64_t in_features, int64_t out_features, double coeff, int power_iterations,
                   DType dtype, Generator* generator)
    : coeff_(coeff), power_iterations_(power_iterations) {
  KITE_CHECK(coeff > 0, "SNLinear: coefficient must be positive, got " << coeff);
  weight = Tensor::empty({out_features, in_features}, dtype);
  init::default_weight_(weight, generator);
  bias = Tensor::empty({out_features}, dtype);
  init::default_bias_(bias, in_features, generator);
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
  u = normalize(randn({out_features}, dtype, Device::cpu(), generator));
  v = normalize(randn({in_features}, dtype, Device::cpu(), generator));
  register_buffer("u", &u);
  register_buffer("v", &v);
  update_sigma(20);  // start from a converged estimate
}

double SNLinear::update_sigma(int iterations) {
  NoGradGuard no_grad;
  Tensor w = weight.detach();
  Tensor new_u = u, new_v = v;
  for (int i = 0; i < iterations; ++i) {
    new_v = normalize(matmul(transpose(w, 0, 1), new_u));
    new_u = normalize(matmul(w, new_v));
  }
  copy_(u, new_u);
  copy_(v, new_v);
  return sigma();
}

double SNLinear::sigma() const {
  NoGradGuard no_grad;
  return dot(u, matmul(weight.detach(), v)).item<double>();
}

double SNLinear::applied_spectral_norm(int iterations) {
  NoGradGuard no_grad;
  const double s = sigma();
  Tensor w = s > coeff_ ? weight * (coeff_ / s) : weight.detach();
  Generator generator(12345);
  Tensor x = normalize(randn({w.size(1)}, w.dtype(), w.device(), &generator)), y;
  for (int i = 0; i < iterations; ++i) {
    y = normalize(matmul(w, x));
    x = normalize(matmul(transpose(w, 0, 1), y));
  }
  return dot(y, matmul(w, x)).item<double>();
}

Tensor SNLinear::normalized_weight() {
  if (is_training() && power_iterations_ > 0) update_sigma(power_iterations_);
  Tensor sigma = dot(u, matmul(weight, v));  // differentiable in weight, u and v fixed
  // W / max(1, sigma / c): the factor is a smooth op once we know which branch applies.
  double value;
  {
    NoGradGuard no_grad;
    value = sigma.item<double>();
  }
  if (value <= coeff_) return weight;
  return weight * (coeff_ / sigma);
}

Tensor SNLinear::forward(const Tensor& x) { return linear(x, normalized_weight(), bias); }

}  // namespace kite::nn
