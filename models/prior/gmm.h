// A full-covariance Gaussian mixture fitted by EM: RAE's "ex-post density estimation" on the
// codes of a deterministic autoencoder (Ghosh et al. 2020), the baseline prior that the
// decoupled model's flow has to beat on the same codes.
//
//   p(x) = sum_k w_k N(x; mu_k, S_k)
//
// Fitting (float64, CPU, OpenMP over rows):
//   - k-means: greedy k-means++ seeding (D^2 sampling, the best of 2 + log K candidates per
//     center) and Lloyd iterations to convergence, best of a few restarts; the hard
//     assignments give the first M-step (EM itself only finds a local optimum, so the
//     start decides which clusters it can separate);
//   - E-step: log N through each component's Cholesky factor, responsibilities by
//     log-sum-exp over components (no underflow for far-away points);
//   - M-step: weights, means, covariances; `covariance_floor` is added to every diagonal
//     (sklearn's reg_covar), which keeps a component that collapses onto a few points
//     positive definite;
//   - stops when the mean log-likelihood per row improves by less than `tolerance`.
// With covariance_floor = 0 this is plain EM, whose log-likelihood never decreases.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/generator.h"
#include "engine/tensor.h"

namespace kite::prior {

struct GmmOptions {
  int64_t components = 10;
  int64_t max_iterations = 2000;  // RAE's setting
  double tolerance = 1e-3;        // on the mean log-likelihood per row (sklearn's tol)
  double covariance_floor = 1e-6;
  int64_t kmeans_iterations = 100;  // Lloyd iterations at most (0: seeding only)
  int64_t kmeans_restarts = 4;
  uint64_t seed = 0;
};

class GaussianMixture {
 public:
  // codes [n, d] (any floating dtype, any device); n must exceed the number of components.
  static GaussianMixture fit(const Tensor& codes, const GmmOptions& options = {});

  // log density per row, float64 [n] on the CPU.
  Tensor log_prob(const Tensor& x) const;
  // Mean log density per row of x (float64 throughout).
  double mean_log_likelihood(const Tensor& x) const;
  // n samples [n, d] in `dtype`: a component by its weight, then mu + temperature * L eps
  // (temperature scales every component's spread, not the weights; 1 = the fitted density).
  Tensor sample(int64_t n, Generator* generator = nullptr, DType dtype = DType::Float32,
                double temperature = 1.0) const;

  int64_t components() const { return static_cast<int64_t>(weights_.size()); }
  int64_t dim() const { return dim_; }
  const std::vector<double>& weights() const { return weights_; }
  const std::vector<double>& means() const { return means_; }              // [K * d]
  const std::vector<double>& covariances() const { return covariances_; }  // [K * d * d]
  // Lower Cholesky factors L_k of the covariances (S_k = L_k L_k^T), [K * d * d].
  const std::vector<double>& cholesky_factors() const { return cholesky_; }

  // Mean log-likelihood per row after each EM iteration (the first entry follows the
  // initial M-step), and whether the tolerance was met before max_iterations.
  const std::vector<double>& history() const { return history_; }
  bool converged() const { return converged_; }

  // For checkpoints: "weights" [K], "means" [K, d], "covariances" [K, d, d] (float64).
  std::map<std::string, Tensor> tensors() const;
  static GaussianMixture from_tensors(const std::map<std::string, Tensor>& tensors);
  // Builds a mixture from explicit parameters (weights are normalised).
  static GaussianMixture from_parameters(std::vector<double> weights, std::vector<double> means,
                                         std::vector<double> covariances, int64_t dim);

 private:
  // Recomputes the Cholesky factors and log-normalisers; throws if a covariance is not
  // positive definite.
  void factorize();
  // log w_k + log N(x_i; mu_k, S_k) for every row i and component k, [n * K].
  std::vector<double> weighted_log_densities(const double* x, int64_t n) const;

  int64_t dim_ = 0;
  std::vector<double> weights_, means_, covariances_;
  std::vector<double> cholesky_;  // lower factors, [K * d * d]
  std::vector<double> log_norm_;  // -0.5 log det S_k - d/2 log(2 pi), [K]
  std::vector<double> history_;
  bool converged_ = false;
};

}  // namespace kite::prior
