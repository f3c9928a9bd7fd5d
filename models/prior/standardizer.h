// Per-dimension standardisation of latent codes: x' = (x - mean) / std with mean and std
// from the training codes. The decoupled VAE fits its flow to x'; generation maps back.
// Its log-determinant, -sum(log std), enters likelihoods of the raw codes.
#pragma once

#include "engine/tensor.h"

namespace kite::prior {

struct Standardizer {
  Tensor mean;    // [d]
  Tensor stddev;  // [d]

  static Standardizer fit(const Tensor& codes, double min_std = 1e-6);
  Tensor forward(const Tensor& codes) const;
  Tensor inverse(const Tensor& standardized) const;
  // log |det d forward / d codes| = -sum(log std): add to a log-density of standardised codes
  // to get the log-density of raw codes.
  double log_det() const;
};

}  // namespace kite::prior
