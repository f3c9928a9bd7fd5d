// The i-ResNet flow (see iresnet.h).
#include "models/flow/iresnet.h"

#include <cmath>

#include "engine/autograd.h"
#include "ops/ops.h"

namespace kite::flow {

Tensor standard_normal_log_prob(const Tensor& z) {
  const double d = static_cast<double>(z.size(-1));
  return sum(square(z), {-1}) * -0.5 - 0.5 * d * std::log(2 * M_PI);
}

IResNet::IResNet(const IResNetConfig& config, DType dtype, Generator* generator) : config_(config) {
  KITE_CHECK(config.dim > 0 && config.blocks > 0 && config.hidden > 0,
             "IResNet: dim, blocks and hidden must be positive");
  KITE_CHECK(config.base_components >= 0,
             "IResNet: base_components must be >= 0, got " << config.base_components);
  BlockConfig block{config.dim, config.hidden, config.coeff, config.power_iterations,
                    config.activation};
  for (int i = 0; i < config.blocks; ++i) {
    if (config.actnorm)
      actnorms_.push_back(register_module("actnorm" + std::to_string(i),
                                          std::make_shared<ActNorm>(config.dim, dtype)));
    blocks_.push_back(register_module("block" + std::to_string(i),
                                      std::make_shared<IResBlock>(block, dtype, generator)));
  }
  if (config.base_components > 0)
    mixture_base_ = register_module(
        "base", std::make_shared<MixtureBase>(config.base_components, config.dim, dtype));
}

FlowOutput IResNet::forward(const Tensor& x, const LogdetOptions& options) {
  KITE_CHECK(x.dim() == 2 && x.size(1) == config_.dim,
             "IResNet: expected codes [batch, " << config_.dim << "], got " << describe(x));
  Tensor h = x, total;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    Tensor logdet;
    if (config_.actnorm) {
      h = actnorms_[i]->forward(h, &logdet);
      total = total.defined() ? total + logdet : logdet;
    }
    h = blocks_[i]->forward(h, &logdet, options);
    total = total.defined() ? total + logdet : logdet;
  }
  return {h, total};
}

Tensor IResNet::transform(const Tensor& x) {
  KITE_CHECK(x.dim() == 2 && x.size(1) == config_.dim,
             "IResNet: expected codes [batch, " << config_.dim << "], got " << describe(x));
  Tensor h = x;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    if (config_.actnorm) h = actnorms_[i]->forward(h, nullptr);
    h = blocks_[i]->forward(h, nullptr);
  }
  return h;
}

Tensor IResNet::inverse(const Tensor& z, const InverseOptions& options, InverseStats* stats) {
  NoGradGuard no_grad;
  Tensor h = z;
  for (size_t i = blocks_.size(); i-- > 0;) {
    h = blocks_[i]->inverse(h, options, stats);
    if (config_.actnorm) h = actnorms_[i]->inverse(h);
  }
  return h;
}

Tensor IResNet::log_prob(const Tensor& x, const LogdetOptions& options) {
  FlowOutput out = forward(x, options);
  return base_log_prob(out.z) + out.logdet;
}

Tensor IResNet::base_log_prob(const Tensor& z) {
  return mixture_base_ ? mixture_base_->log_prob(z) : standard_normal_log_prob(z);
}

Tensor IResNet::sample_base(int64_t n, Generator* generator, double temperature) {
  KITE_CHECK(temperature > 0 && std::isfinite(temperature),
             "IResNet: sampling temperature must be positive, got " << temperature);
  if (mixture_base_) return mixture_base_->sample(n, generator, temperature);
  const Tensor reference = blocks_.front()->parameters().front();
  return randn({n, config_.dim}, reference.dtype(), reference.device(), generator) * temperature;
}

Tensor IResNet::sample(int64_t n, Generator* generator, double temperature,
                       const InverseOptions& options, InverseStats* stats) {
  return inverse(sample_base(n, generator, temperature), options, stats);
}

Tensor IResNet::nll_per_dim(const Tensor& x, const LogdetOptions& options) {
  return mean(log_prob(x, options)) * (-1.0 / static_cast<double>(config_.dim));
}

void IResNet::converge_spectral_norms(int max_iterations) {
  constexpr int kChunk = 10;
  for (auto& block : blocks_)
    for (auto& layer : block->layers()) {
      double previous = layer->update_sigma(kChunk);
      for (int done = kChunk; done < max_iterations; done += kChunk) {
        const double current = layer->update_sigma(kChunk);
        const bool settled = std::abs(current - previous) <= 1e-9 * std::abs(current);
        previous = current;
        if (settled) break;
      }
    }
}

std::vector<double> IResNet::spectral_norms(int iterations) {
  std::vector<double> sigmas;
  for (auto& block : blocks_)
    for (auto& layer : block->layers()) sigmas.push_back(layer->applied_spectral_norm(iterations));
  return sigmas;
}

}  // namespace kite::flow
