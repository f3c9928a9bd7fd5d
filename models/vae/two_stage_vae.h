// The 2-stage VAE (Dai & Wipf 2019, github daib13/TwoStageVAE).
//
// Stage 1: a vae::Vae with a learnt decoder variance gamma (learn_gamma), whose optimum is the
// reconstruction MSE; as gamma shrinks, the VAE's aggregate posterior stops matching N(0, I)
// on the dimensions it uses, which is what stage 2 repairs.
// Stage 2: a second VAE on the stage-1 codes z (re-drawn from q(z|x) every batch), with a
// latent u of the same size:
//   encoder  z -> [Linear(hidden) + ReLU] x depth -> concat(z, h) -> Linear -> (mu_u, log var_u)
//   decoder  u -> [Linear(hidden) + ReLU] x depth -> concat(u, h) -> Linear -> z_hat
//   loss     ||z - z_hat||^2 / (2 gamma_z) + d/2 log(2 pi gamma_z) + KL, gamma_z learnt
// (hidden 1024, depth 3 as in the original). Generation: u ~ N(0, I) -> stage-2 decoder ->
// stage-1 decoder.
#pragma once

#include <memory>
#include <vector>

#include "models/nn/linear.h"
#include "models/vae/vae.h"

namespace kite::vae {

struct SecondStageConfig {
  int64_t dim = 32;  // size of z and of u
  int64_t hidden = 1024;
  int64_t depth = 3;
  void validate() const;
};

// [Linear + ReLU] x depth, then the input concatenated to the last hidden layer before the
// output Linear.
class SkipMlp : public nn::Layer {
 public:
  SkipMlp(int64_t in, int64_t hidden, int64_t depth, int64_t out, DType dtype,
          Generator* generator);
  Tensor forward(const Tensor& x) override;

 private:
  std::vector<std::shared_ptr<nn::Linear>> hidden_;
  std::shared_ptr<nn::Linear> output_;
};

class SecondStage : public nn::Module {
 public:
  explicit SecondStage(const SecondStageConfig& config, DType dtype = DType::Float32,
                       Generator* generator = nullptr);

  Posterior encode(const Tensor& z);
  Tensor decode(const Tensor& u) { return decoder->forward(u); }
  // Loss on a batch of codes z [N, dim], divided by dim.
  VaeLoss loss(const Tensor& z, Generator* generator = nullptr);
  double gamma() const;
  std::vector<Tensor> network_parameters() const;
  const SecondStageConfig& config() const { return config_; }

  std::shared_ptr<SkipMlp> encoder, decoder;
  Tensor log_gamma;  // [1], learnt

 private:
  SecondStageConfig config_;
};

class TwoStageVae : public nn::Module {
 public:
  // stage1 must learn gamma; stage 2 is sized by stage 1's latent.
  TwoStageVae(const VaeConfig& stage1_config, const SecondStageConfig& stage2_config,
              DType dtype = DType::Float32, Generator* generator = nullptr);

  // u ~ N(0, T^2 I) -> stage-2 decoder -> stage-1 decoder.
  Tensor sample(int64_t n, Generator* generator = nullptr, double temperature = 1.0);
  // Codes of the whole generation path before the image decoder (for latent statistics).
  Tensor sample_codes(int64_t n, Generator* generator = nullptr, double temperature = 1.0);

  std::shared_ptr<Vae> stage1;
  std::shared_ptr<SecondStage> stage2;
};

}  // namespace kite::vae
