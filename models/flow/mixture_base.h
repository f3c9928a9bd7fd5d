// A learnable Gaussian-mixture base distribution for the flow, in place of N(0, I):
//
//   log p(z) = logsumexp_k [ log w_k - 0.5 |(z - mu_k) W_k|^2 + log|det W_k| - d/2 log(2 pi) ]
//
// with w = softmax(logits) and W_k a whitening matrix (the component's covariance is
// (W_k W_k^T)^{-1}). Why: a flow maps its base through a bi-Lipschitz map, so from one
// Gaussian it cannot empty the space between the classes' clusters of codes; the samples
// drawn there decode to class blends (apps/EXPERIMENTS.md, session 5). A mixture base keeps
// the clusters apart and leaves the flow to shape each one. Everything is written in engine
// ops, so the base trains with the flow by the same backward pass.
#pragma once

#include "engine/generator.h"
#include "models/nn/module.h"
#include "models/prior/gmm.h"

namespace kite::flow {

class MixtureBase : public nn::Module {
 public:
  MixtureBase(int64_t components, int64_t dim, DType dtype = DType::Float32);

  // log p(z) per row ([B]) of z [B, d]; differentiable in z and in the parameters.
  Tensor log_prob(const Tensor& z);
  // n samples [n, d] on the parameters' device and dtype: a component by its weight, then
  // its mean plus temperature times its spread (as prior::GaussianMixture::sample).
  Tensor sample(int64_t n, Generator* generator = nullptr, double temperature = 1.0);

  // Sets the parameters to a fitted mixture's (W_k = L_k^{-T} for S_k = L_k L_k^T).
  void set_from(const prior::GaussianMixture& mixture);
  // The current parameters as a float64 CPU mixture (for sampling and checks).
  prior::GaussianMixture to_gaussian_mixture() const;

  int64_t components() const { return logits.size(0); }
  int64_t dim() const { return means.size(1); }

  Tensor logits;     // [K]
  Tensor means;      // [K, d]
  Tensor whitening;  // [K, d, d]
};

}  // namespace kite::flow
