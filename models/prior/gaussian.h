// A full-covariance Gaussian fitted to codes: the simplest prior a flow must beat.
//   log N(x; mu, S) = -0.5 (x - mu)^T S^{-1} (x - mu) - 0.5 log det S - d/2 log(2 pi)
// Fitted and evaluated in float64 (covariance with N - 1, plus a small ridge for stability).
#pragma once

#include "engine/generator.h"
#include "engine/tensor.h"

namespace kite::prior {

class FullGaussian {
 public:
  static FullGaussian fit(const Tensor& codes, double ridge = 1e-6);
  // log density per row, float64 [n].
  Tensor log_prob(const Tensor& x) const;
  // n samples mean + temperature * L eps, in the dtype of the fitted codes.
  Tensor sample(int64_t n, Generator* generator = nullptr, double temperature = 1.0) const;

  Tensor mean;        // [d] float64
  Tensor covariance;  // [d, d] float64

 private:
  Tensor precision_;    // S^{-1}
  double log_det_ = 0;  // log det S
  Tensor cholesky_;     // lower triangular L with S = L L^T (for sampling)
  DType dtype_ = DType::Float32;
};

// Negative log-likelihood in nats per dimension, averaged over rows, of x under N(0, I).
double standard_normal_nll_per_dim(const Tensor& x);

}  // namespace kite::prior
