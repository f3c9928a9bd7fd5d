// The VAE baselines: a VAE with the stage-1 autoencoder's architecture and a Gaussian
// decoder of variance gamma (fixed or learnt), and beta-VAE.
//
//   encoder  the ae::Encoder of the same configuration, its last Linear widened to 2 * latent:
//            (mu, log sigma^2) of q(z|x) = N(mu, diag sigma^2)
//   decoder  the ae::Decoder, its output the mean of p(x|z) = N(x_hat, gamma I)
//   sample   z = mu + sigma * eps, eps ~ N(0, I) from the given generator (reparameterisation:
//            gradients flow through mu and sigma)
//
// Per image with D pixels, the loss minimised is the negative beta-ELBO
//   ||x - x_hat||^2 / (2 gamma) + D/2 log(2 pi gamma) + beta KL(q(z|x) || N(0, I)),
// averaged over the batch and divided by D (a per-pixel scale, so Adam's steps match
// train_ae's). gamma = 0 is the plain autoencoder limit: z = mu, loss = per-pixel MSE.
// With gamma fixed, beta only rescales gamma (the optimum of the beta-ELBO with gamma equals
// that of the ELBO with beta * gamma); learn_gamma makes log gamma a parameter, whose optimum
// is the per-pixel MSE (Dai & Wipf's stage 1).
//
// Parameters: encoder.*, decoder.* (as the autoencoder's, encoder.fc twice as wide), and
// log_gamma [1] (a parameter when learnt, else a buffer).
#pragma once

#include <memory>
#include <vector>

#include "models/ae/autoencoder.h"
#include "models/nn/module.h"

namespace kite::vae {

struct VaeConfig {
  ae::AutoencoderConfig architecture;
  double gamma = 1.0;        // decoder variance (initial value when learnt); 0 = plain AE
  bool learn_gamma = false;  // log gamma trained (give it its own learning rate)
  double beta = 1.0;         // weight of the KL term

  bool deterministic() const { return gamma == 0.0 && !learn_gamma; }
  void validate() const;
};

// q(z|x) = N(mean, exp(log_var)), both [N, latent].
struct Posterior {
  Tensor mean, log_var;
};

// One batch's loss and its parts (plain numbers are batch means, for logging).
struct VaeLoss {
  Tensor total;              // 0-d: what backward() is called on
  double sse = 0;            // squared error summed over an image's pixels
  double kl = 0;             // KL(q(z|x) || N(0, I)) in nats per image
  double negative_elbo = 0;  // per image, nats (beta = 1), NaN when deterministic
  double gamma = 0;          // the decoder variance used
};

// Reparameterised draw mean + exp(log_var / 2) * eps.
Tensor reparameterize(const Posterior& q, Generator* generator = nullptr);
// KL(N(mean, exp(log_var)) || N(0, I)) summed over the latent dimensions, [N].
Tensor kl_per_item(const Posterior& q);
// -log N(target; prediction, gamma I) per item, [N]: sse / (2 gamma) + D/2 log(2 pi gamma);
// log_gamma is a [1] tensor (gradients flow into it when it requires grad).
Tensor gaussian_nll_per_item(const Tensor& prediction, const Tensor& target,
                             const Tensor& log_gamma, Tensor* sse_out = nullptr);

class Vae : public nn::Module {
 public:
  explicit Vae(const VaeConfig& config = {}, DType dtype = DType::Float32,
               Generator* generator = nullptr);

  Posterior encode(const Tensor& x);
  Tensor decode(const Tensor& z) { return decoder->forward(z); }
  // The training loss on a batch; noise from `generator` (unused when deterministic).
  VaeLoss loss(const Tensor& x, Generator* generator = nullptr);
  // decode(mean of q(z|x)): the reconstruction used for test MSE.
  Tensor reconstruct(const Tensor& x);
  // decode(z), z ~ N(0, T^2 I).
  Tensor sample(int64_t n, Generator* generator = nullptr, double temperature = 1.0);

  double gamma() const;
  const VaeConfig& config() const { return config_; }
  // encoder and decoder parameters, without log_gamma (it gets its own optimizer).
  std::vector<Tensor> network_parameters() const;

  std::shared_ptr<ae::Encoder> encoder;
  std::shared_ptr<ae::Decoder> decoder;
  Tensor log_gamma;  // [1]

 private:
  VaeConfig config_;
};

}  // namespace kite::vae
