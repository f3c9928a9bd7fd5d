// The 2-stage VAE (see two_stage_vae.h).
#include "models/vae/two_stage_vae.h"

#include <cmath>
#include <string>

#include "engine/error.h"
#include "ops/ops.h"

namespace kite::vae {

void SecondStageConfig::validate() const {
  KITE_CHECK(dim > 0 && hidden > 0 && depth >= 1,
             "SecondStage: dim, hidden and depth must be positive (got " << dim << ", " << hidden
                                                                         << ", " << depth << ")");
}

SkipMlp::SkipMlp(int64_t in, int64_t hidden, int64_t depth, int64_t out, DType dtype,
                 Generator* generator) {
  int64_t width = in;
  for (int64_t i = 0; i < depth; ++i) {
    hidden_.push_back(
        register_module("fc" + std::to_string(i),
                        std::make_shared<nn::Linear>(width, hidden, true, dtype, generator)));
    width = hidden;
  }
  output_ = register_module("out",
                            std::make_shared<nn::Linear>(in + hidden, out, true, dtype, generator));
}

Tensor SkipMlp::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& layer : hidden_) h = relu(layer->forward(h));
  return output_->forward(cat({x, h}, 1));
}

SecondStage::SecondStage(const SecondStageConfig& config, DType dtype, Generator* generator)
    : config_(config) {
  config_.validate();
  encoder = register_module("encoder",
                            std::make_shared<SkipMlp>(config_.dim, config_.hidden, config_.depth,
                                                      2 * config_.dim, dtype, generator));
  decoder = register_module(
      "decoder", std::make_shared<SkipMlp>(config_.dim, config_.hidden, config_.depth, config_.dim,
                                           dtype, generator));
  log_gamma = zeros({1}, dtype);
  log_gamma.set_requires_grad(true);
  register_parameter("log_gamma", &log_gamma);
}

Posterior SecondStage::encode(const Tensor& z) {
  KITE_CHECK(z.dim() == 2 && z.size(1) == config_.dim,
             "SecondStage: expected codes [N, " << config_.dim << "], got " << describe(z));
  Tensor h = encoder->forward(z);
  return {narrow(h, 1, 0, config_.dim), narrow(h, 1, config_.dim, config_.dim)};
}

VaeLoss SecondStage::loss(const Tensor& z, Generator* generator) {
  Posterior q = encode(z);
  Tensor prediction = decode(reparameterize(q, generator));
  Tensor sse;
  Tensor nll = gaussian_nll_per_item(prediction, z, log_gamma, &sse);
  Tensor kl = kl_per_item(q);
  VaeLoss out;
  out.total = mean(nll + kl) / static_cast<double>(config_.dim);
  auto mean_of = [](const Tensor& t) {
    return to_device(mean(to_dtype(t, DType::Float64)), Device::cpu()).item<double>();
  };
  out.sse = mean_of(sse);
  out.kl = mean_of(kl);
  out.negative_elbo = mean_of(nll) + out.kl;
  out.gamma = gamma();
  return out;
}

double SecondStage::gamma() const {
  return std::exp(to_device(to_dtype(log_gamma, DType::Float64), Device::cpu()).item<double>());
}

std::vector<Tensor> SecondStage::network_parameters() const {
  std::vector<Tensor> out = encoder->parameters();
  for (const Tensor& p : decoder->parameters()) out.push_back(p);
  return out;
}

TwoStageVae::TwoStageVae(const VaeConfig& stage1_config, const SecondStageConfig& stage2_config,
                         DType dtype, Generator* generator) {
  KITE_CHECK(stage2_config.dim == stage1_config.architecture.latent_dim,
             "TwoStageVae: stage 2 models " << stage2_config.dim << "-d codes but stage 1's are "
                                            << stage1_config.architecture.latent_dim << "-d");
  stage1 = register_module("stage1", std::make_shared<Vae>(stage1_config, dtype, generator));
  stage2 =
      register_module("stage2", std::make_shared<SecondStage>(stage2_config, dtype, generator));
}

Tensor TwoStageVae::sample_codes(int64_t n, Generator* generator, double temperature) {
  const Tensor& any = stage2->log_gamma;
  Tensor u = randn({n, stage2->config().dim}, any.dtype(), any.device(), generator) * temperature;
  return stage2->decode(u);
}

Tensor TwoStageVae::sample(int64_t n, Generator* generator, double temperature) {
  return stage1->decode(sample_codes(n, generator, temperature));
}

}  // namespace kite::vae
