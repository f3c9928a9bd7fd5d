// Weight initialisers (see init.h).
#include "models/nn/init.h"

#include <cmath>

#include "engine/autograd.h"
#include "ops/elementwise.h"
#include "ops/factory.h"

namespace kite::nn::init {

int64_t fan_in(const Tensor& w) {
  KITE_CHECK(w.dim() >= 2, "init: fan_in needs a weight with at least 2 axes, got " << describe(w));
  return w.numel() / w.size(0);
}

int64_t fan_out(const Tensor& w) {
  KITE_CHECK(w.dim() >= 2,
             "init: fan_out needs a weight with at least 2 axes, got " << describe(w));
  return w.numel() / w.size(1);
}

void uniform_(const Tensor& w, double lo, double hi, Generator* generator) {
  NoGradGuard no_grad;
  copy_(w, rand(w.shape(), w.dtype(), w.device(), generator) * (hi - lo) + lo);
}

void normal_(const Tensor& w, double mean, double std, Generator* generator) {
  NoGradGuard no_grad;
  copy_(w, randn(w.shape(), w.dtype(), w.device(), generator) * std + mean);
}

void zeros_(const Tensor& w) {
  NoGradGuard no_grad;
  fill_(w, 0.0);
}

void kaiming_uniform_(const Tensor& w, double negative_slope, Generator* generator) {
  const double gain = std::sqrt(2.0 / (1.0 + negative_slope * negative_slope));
  const double bound = gain * std::sqrt(3.0 / static_cast<double>(fan_in(w)));
  uniform_(w, -bound, bound, generator);
}

void xavier_uniform_(const Tensor& w, double gain, Generator* generator) {
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in(w) + fan_out(w)));
  uniform_(w, -bound, bound, generator);
}

void default_weight_(const Tensor& w, Generator* generator) {
  kaiming_uniform_(w, std::sqrt(5.0), generator);
}

void default_bias_(const Tensor& b, int64_t fan_in, Generator* generator) {
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  uniform_(b, -bound, bound, generator);
}

}  // namespace kite::nn::init
