// The VAE baselines (see vae.h).
#include "models/vae/vae.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/ops.h"

namespace kite::vae {
namespace {

constexpr double kLog2Pi = 1.8378770664093454836;

ae::AutoencoderConfig doubled_latent(ae::AutoencoderConfig config) {
  config.latent_dim *= 2;
  return config;
}

double item_mean(const Tensor& t) {
  return to_device(mean(to_dtype(t, DType::Float64)), Device::cpu()).item<double>();
}

}  // namespace

void VaeConfig::validate() const {
  architecture.validate();
  KITE_CHECK(gamma >= 0 && std::isfinite(gamma), "VAE: gamma must be >= 0, got " << gamma);
  KITE_CHECK(!(learn_gamma && gamma == 0), "VAE: a learnt gamma needs a positive initial value");
  KITE_CHECK(beta > 0 && std::isfinite(beta), "VAE: beta must be positive, got " << beta);
}

Tensor reparameterize(const Posterior& q, Generator* generator) {
  return q.mean + exp(q.log_var * 0.5) * randn_like(q.mean, generator);
}

Tensor kl_per_item(const Posterior& q) {
  return sum(kl_normal(q.mean, q.log_var, Reduction::None), {1});
}

Tensor gaussian_nll_per_item(const Tensor& prediction, const Tensor& target,
                             const Tensor& log_gamma, Tensor* sse_out) {
  KITE_CHECK(prediction.shape() == target.shape(), "gaussian_nll_per_item: prediction "
                                                       << describe(prediction) << " vs target "
                                                       << describe(target));
  Tensor sse = sum(flatten(square(prediction - target), 1), {1});
  if (sse_out) *sse_out = sse;
  const double dims = static_cast<double>(prediction.numel() / prediction.size(0));
  return sse * exp(-log_gamma) * 0.5 + (log_gamma + kLog2Pi) * (0.5 * dims);
}

Vae::Vae(const VaeConfig& config, DType dtype, Generator* generator) : config_(config) {
  config_.validate();
  encoder = register_module("encoder", std::make_shared<ae::Encoder>(
                                           doubled_latent(config_.architecture), dtype, generator));
  decoder = register_module("decoder",
                            std::make_shared<ae::Decoder>(config_.architecture, dtype, generator));
  log_gamma = full({1}, config_.gamma > 0 ? std::log(config_.gamma) : 0.0, dtype);
  if (config_.learn_gamma) {
    log_gamma.set_requires_grad(true);
    register_parameter("log_gamma", &log_gamma);
  } else {
    register_buffer("log_gamma", &log_gamma);
  }
}

Posterior Vae::encode(const Tensor& x) {
  Tensor h = encoder->forward(x);
  const int64_t d = config_.architecture.latent_dim;
  return {narrow(h, 1, 0, d), narrow(h, 1, d, d)};
}

VaeLoss Vae::loss(const Tensor& x, Generator* generator) {
  VaeLoss out;
  const double pixels = static_cast<double>(x.numel() / x.size(0));
  Posterior q = encode(x);
  if (config_.deterministic()) {
    Tensor prediction = decode(q.mean);
    out.total = mse_loss(prediction, x);
    out.sse = item_mean(sum(flatten(square(prediction - x), 1), {1}));
    out.negative_elbo = NAN;
    out.gamma = 0;
    return out;
  }
  Tensor prediction = decode(reparameterize(q, generator));
  Tensor sse;
  Tensor nll = gaussian_nll_per_item(prediction, x, log_gamma, &sse);
  Tensor kl = kl_per_item(q);
  out.total = mean(nll + kl * config_.beta) / pixels;
  out.sse = item_mean(sse);
  out.kl = item_mean(kl);
  out.negative_elbo = item_mean(nll) + out.kl;
  out.gamma = gamma();
  return out;
}

Tensor Vae::reconstruct(const Tensor& x) { return decode(encode(x).mean); }

Tensor Vae::sample(int64_t n, Generator* generator, double temperature) {
  const auto& p = encoder->named_parameters();
  KITE_CHECK(!p.empty(), "Vae::sample: the model has no parameters");
  const Tensor& any = p.front().second;
  return decode(randn({n, config_.architecture.latent_dim}, any.dtype(), any.device(), generator) *
                temperature);
}

double Vae::gamma() const {
  if (config_.deterministic()) return 0.0;
  return std::exp(to_device(to_dtype(log_gamma, DType::Float64), Device::cpu()).item<double>());
}

std::vector<Tensor> Vae::network_parameters() const {
  std::vector<Tensor> out = encoder->parameters();
  for (const Tensor& p : decoder->parameters()) out.push_back(p);
  return out;
}

}  // namespace kite::vae
