// The i-ResNet flow of stage 2: blocks of ActNorm followed by an invertible residual block,
// mapping standardised latent codes x to z with exact (or estimated) log-determinants.
//   log p(x) = log p_base(z) + sum_blocks log|det|
// The base is N(0, I) (the paper's), or with base_components = K > 0 a learnable K-component
// Gaussian mixture (mixture_base.h).
// Sampling: z ~ base, then invert block by block (fixed point, then ActNorm inverse).
#pragma once

#include <memory>
#include <vector>

#include "models/flow/actnorm.h"
#include "models/flow/iresnet_block.h"
#include "models/flow/mixture_base.h"

namespace kite::flow {

struct IResNetConfig {
  int64_t dim = 32;
  int blocks = 10;
  int64_t hidden = 128;
  double coeff = 0.9;
  int power_iterations = 1;
  Activation activation = Activation::ELU;
  bool actnorm = true;
  int64_t base_components = 0;  // 0: N(0, I); K > 0: a learnable K-component mixture
};

struct FlowOutput {
  Tensor z;       // [B, d]
  Tensor logdet;  // [B], sum over blocks
};

class IResNet : public nn::Module {
 public:
  explicit IResNet(const IResNetConfig& config, DType dtype = DType::Float32,
                   Generator* generator = nullptr);

  FlowOutput forward(const Tensor& x, const LogdetOptions& options = {});
  // z = F(x) alone, without log-determinants.
  Tensor transform(const Tensor& x);
  Tensor inverse(const Tensor& z, const InverseOptions& options = {},
                 InverseStats* stats = nullptr);
  // log p(x) per sample ([B]), with the chosen log-determinant estimator.
  Tensor log_prob(const Tensor& x, const LogdetOptions& options = {});
  // log p_base(z) per row ([B]).
  Tensor base_log_prob(const Tensor& z);
  // n draws from the base on the flow's device and dtype; temperature scales the spread
  // (of N(0, I), or of each mixture component about its mean).
  Tensor sample_base(int64_t n, Generator* generator = nullptr, double temperature = 1.0);
  // n samples of x: base draws inverted through the flow.
  Tensor sample(int64_t n, Generator* generator = nullptr, double temperature = 1.0,
                const InverseOptions& options = {}, InverseStats* stats = nullptr);
  // Negative log-likelihood in nats per dimension, averaged over the batch (the loss).
  Tensor nll_per_dim(const Tensor& x, const LogdetOptions& options = {});

  // Runs power iterations in every SN layer until its sigma estimate changes by less than
  // 1e-9 (relative) over 10 iterations, or `max_iterations` have run, so that the estimates
  // (and hence the applied weights' norms) are converged before evaluation, sampling or
  // saving. Power iteration approaches sigma from below, slowly when the top two singular
  // values are close: a fixed 100 iterations left applied norms up to 1% above c.
  void converge_spectral_norms(int max_iterations = 5000);
  // The spectral norm of every SN layer's applied weight, each estimated independently by
  // power iteration (all should be <= c, up to the estimate's own accuracy).
  std::vector<double> spectral_norms(int iterations = 200);

  const IResNetConfig& config() const { return config_; }
  const std::vector<std::shared_ptr<IResBlock>>& blocks() const { return blocks_; }
  // The mixture base (null for the N(0, I) base).
  MixtureBase* mixture_base() const { return mixture_base_.get(); }

 private:
  IResNetConfig config_;
  std::vector<std::shared_ptr<ActNorm>> actnorms_;
  std::vector<std::shared_ptr<IResBlock>> blocks_;
  std::shared_ptr<MixtureBase> mixture_base_;
};

// log N(z; 0, I) summed over the last axis: -0.5 |z|^2 - d/2 log(2 pi).
Tensor standard_normal_log_prob(const Tensor& z);

}  // namespace kite::flow
