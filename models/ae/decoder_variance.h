// A learnt decoder variance for the deterministic autoencoder (train_ae --learn-gamma).
//
// Reading the decoder's output as the mean of N(x_hat, gamma I), the negative log-likelihood
// per pixel is, up to the constant log(2 pi) / 2,
//   MSE / (2 gamma) + log(gamma) / 2,
// minimised over gamma at gamma = MSE. With log gamma learnt alongside the network (its own
// Adam, lr 1e-2, as the learnt-gamma VAE's), gamma follows the training MSE down, and the
// network's gradient is the MSE's divided by 2 gamma: it grows as the error falls.
//
// Why: the learnt-gamma VAE (Dai & Wipf's stage 1) reconstructs better than the plain AE of
// the same architecture, and that comes from this learnt gamma, not from the VAE's KL term or
// its posterior noise: a VAE with gamma fixed at its final value reconstructs no better than
// the AE, while the AE with only a learnt gamma reconstructs better than the VAE
// (apps/EXPERIMENTS.md, session 8). The minimiser of the reconstruction error is unchanged;
// only the optimiser's path to it differs.
#pragma once

#include "engine/tensor.h"
#include "models/nn/module.h"

namespace kite::ae {

class DecoderVariance : public nn::Module {
 public:
  // gamma starts at 1 (log gamma 0), as the learnt-gamma VAE's.
  explicit DecoderVariance(DType dtype = DType::Float32);

  // The per-pixel negative log-likelihood (without the constant) of a batch whose per-pixel
  // MSE is `mse` (a 0-d tensor): mse / (2 gamma) + log(gamma) / 2. Gradients flow into both.
  Tensor loss(const Tensor& mse) const;
  double gamma() const;

  Tensor log_gamma;  // [1], a parameter
};

}  // namespace kite::ae
