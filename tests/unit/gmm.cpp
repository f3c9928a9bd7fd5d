// Gaussian mixture by EM: recovers a known mixture, plain EM never lowers the likelihood,
// the density is normalised and agrees with the full Gaussian for one component, sampling
// follows the parameters (a temperature scales the spread about each mean), and the tensors
// round-trip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "models/prior/gaussian.h"
#include "models/prior/gmm.h"
#include "ops/ops.h"

namespace kite::prior {
namespace {

// Three well-separated 2-D components with different weights and correlated covariances.
GaussianMixture reference_mixture() {
  return GaussianMixture::from_parameters({0.5, 0.3, 0.2}, {0, 0, 6, 1, -3, 7},
                                          {1.0, 0.6, 0.6, 1.0,  //
                                           0.5, 0.0, 0.0, 2.0,  //
                                           1.5, -0.7, -0.7, 0.8},
                                          2);
}

// Index of the fitted component whose mean is nearest to `mean`.
int64_t nearest_component(const GaussianMixture& g, double x, double y) {
  int64_t best = 0;
  double best_d = 1e300;
  for (int64_t c = 0; c < g.components(); ++c) {
    const double d = std::hypot(g.means()[c * 2] - x, g.means()[c * 2 + 1] - y);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

TEST(Gmm, RecoversKnownMixture) {
  const GaussianMixture truth = reference_mixture();
  Generator generator(5);
  Tensor x = truth.sample(20000, &generator, DType::Float64);
  GmmOptions options;
  options.components = 3;
  options.tolerance = 1e-7;
  GaussianMixture fit = GaussianMixture::fit(x, options);
  EXPECT_TRUE(fit.converged());
  // Sampling error of 20000 draws: weights +-0.004, means +-0.02, covariances +-0.03 (1 sd);
  // the bounds below are about four standard errors.
  for (int64_t t = 0; t < 3; ++t) {
    const int64_t c = nearest_component(fit, truth.means()[t * 2], truth.means()[t * 2 + 1]);
    EXPECT_NEAR(fit.weights()[c], truth.weights()[t], 0.015) << "component " << t;
    for (int64_t j = 0; j < 2; ++j)
      EXPECT_NEAR(fit.means()[c * 2 + j], truth.means()[t * 2 + j], 0.08) << "component " << t;
    for (int64_t j = 0; j < 4; ++j)
      EXPECT_NEAR(fit.covariances()[c * 4 + j], truth.covariances()[t * 4 + j], 0.12)
          << "component " << t;
  }
  // The fit is at least as likely as the truth on its own training data (it is the MLE).
  EXPECT_GE(fit.mean_log_likelihood(x), truth.mean_log_likelihood(x) - 1e-12);
}

TEST(Gmm, PlainEmNeverLowersTheLikelihood) {
  Generator generator(9);
  // Overlapping components so that EM takes many small steps.
  GaussianMixture truth = GaussianMixture::from_parameters({0.4, 0.6}, {0, 0, 1.5, 0.5},
                                                           {1, 0.3, 0.3, 1, 1, -0.2, -0.2, 0.5}, 2);
  Tensor x = truth.sample(3000, &generator, DType::Float64);
  GmmOptions options;
  options.components = 4;
  options.covariance_floor = 0.0;  // exact EM: monotone by theory
  options.tolerance = 1e-10;
  options.max_iterations = 200;
  options.kmeans_iterations = 0;
  GaussianMixture fit = GaussianMixture::fit(x, options);
  const auto& h = fit.history();
  ASSERT_GT(h.size(), 10u);
  for (size_t i = 1; i < h.size(); ++i)
    EXPECT_GE(h[i], h[i - 1] - 1e-12 * std::abs(h[i - 1])) << "iteration " << i;
  EXPECT_NEAR(fit.mean_log_likelihood(x), h.back(), 1e-9);
}

TEST(Gmm, DensityIntegratesToOne) {
  // Riemann sum over a grid that covers the mass of the reference mixture.
  const GaussianMixture g = reference_mixture();
  const double lo_x = -9, hi_x = 11, lo_y = -7, hi_y = 13, step = 0.05;
  std::vector<double> points;
  for (double px = lo_x + step / 2; px < hi_x; px += step)
    for (double py = lo_y + step / 2; py < hi_y; py += step) points.insert(points.end(), {px, py});
  const int64_t n = static_cast<int64_t>(points.size() / 2);
  std::vector<double> log_p = to_double_vector(g.log_prob(Tensor::from_vector(points, {n, 2})));
  double integral = 0;
  for (double v : log_p) integral += std::exp(v) * step * step;
  EXPECT_NEAR(integral, 1.0, 1e-4);
}

TEST(Gmm, OneComponentEqualsTheFullGaussian) {
  manual_seed(2);
  Tensor x = randn({500, 3}, DType::Float64);
  x = matmul(x, Tensor::from_vector(std::vector<double>{1, 0.5, 0, 0, 1, 0.2, 0, 0, 0.3}, {3, 3}));
  GmmOptions options;
  options.components = 1;
  GaussianMixture g = GaussianMixture::fit(x, options);
  FullGaussian full = FullGaussian::fit(x, 1e-6);
  // Same mean; GMM covariance uses 1/n (the MLE), FullGaussian 1/(n-1): compare with that.
  std::vector<double> mean = to_double_vector(full.mean);
  std::vector<double> cov = to_double_vector(full.covariance);
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(g.means()[j], mean[j], 1e-12);
  for (int j = 0; j < 9; ++j) {
    const double ridge = (j % 4 == 0) ? 1e-6 : 0.0;
    EXPECT_NEAR(g.covariances()[j] - ridge, (cov[j] - ridge) * 499.0 / 500.0, 1e-12);
  }
}

TEST(Gmm, SamplesFollowTheParameters) {
  const GaussianMixture g = reference_mixture();
  Generator generator(1);
  Tensor s = g.sample(40000, &generator, DType::Float64);
  std::vector<double> v = to_double_vector(s);
  // Overall mean = sum w_k mu_k = (0.5*0 + 0.3*6 - 0.2*3, 0.3*1 + 0.2*7) = (1.2, 1.7).
  double mx = 0, my = 0;
  for (size_t i = 0; i < v.size(); i += 2) mx += v[i], my += v[i + 1];
  mx /= 40000, my /= 40000;
  EXPECT_NEAR(mx, 1.2, 0.05);
  EXPECT_NEAR(my, 1.7, 0.05);
  // Same generator state, same samples; the generator advances between draws.
  Generator a(7), b(7);
  std::vector<double> first = to_double_vector(g.sample(10, &a, DType::Float64));
  EXPECT_EQ(first, to_double_vector(g.sample(10, &b, DType::Float64)));
  EXPECT_NE(first, to_double_vector(g.sample(10, &a, DType::Float64)));
}

// With the same generator state the same components and noise are drawn, so a sample at
// temperature T sits T times as far from its component's mean as the one at T = 1.
TEST(Gmm, TemperatureScalesTheSpreadAboutEachMean) {
  const GaussianMixture g = reference_mixture();
  Generator a(3), b(3), c(3);
  const std::vector<double> plain = to_double_vector(g.sample(200, &a, DType::Float64));
  const std::vector<double> hot = to_double_vector(g.sample(200, &b, DType::Float64, 2.0));
  EXPECT_EQ(plain, to_double_vector(g.sample(200, &c, DType::Float64, 1.0)));
  for (size_t i = 0; i < plain.size(); i += 2) {
    // hot = mu + 2 (plain - mu) for the sample's component: hot - 2 plain = -mu.
    double nearest = 1e300;
    for (int64_t k = 0; k < g.components(); ++k)
      nearest = std::min(nearest, std::hypot(hot[i] - 2 * plain[i] + g.means()[2 * k],
                                             hot[i + 1] - 2 * plain[i + 1] + g.means()[2 * k + 1]));
    EXPECT_LT(nearest, 1e-12) << "sample " << i / 2;
  }
  EXPECT_THROW(g.sample(2, &a, DType::Float64, 0.0), Error);
}

TEST(Gmm, FullGaussianTemperatureScalesTheSpread) {
  manual_seed(4);
  const FullGaussian full = FullGaussian::fit(randn({300, 3}, DType::Float64) + 5.0);
  Generator a(9), b(9);
  const std::vector<double> mean = to_double_vector(full.mean);
  const std::vector<double> plain = to_double_vector(full.sample(50, &a));
  const std::vector<double> cold = to_double_vector(full.sample(50, &b, 0.5));
  for (size_t i = 0; i < plain.size(); ++i)
    EXPECT_NEAR(cold[i] - mean[i % 3], 0.5 * (plain[i] - mean[i % 3]), 1e-12);
  EXPECT_THROW(full.sample(2, &a, -1.0), Error);
}

TEST(Gmm, TensorsRoundTripAndErrors) {
  const GaussianMixture g = reference_mixture();
  GaussianMixture back = GaussianMixture::from_tensors(g.tensors());
  Tensor probe = Tensor::from_vector(std::vector<double>{0.1, 0.2, 5, 5, -3, 6}, {3, 2});
  EXPECT_EQ(to_double_vector(back.log_prob(probe)), to_double_vector(g.log_prob(probe)));
  EXPECT_THROW(GaussianMixture::from_parameters({1}, {0, 0}, {1, 2, 2, 1}, 2), Error);  // not PD
  EXPECT_THROW(g.log_prob(Tensor::from_vector(std::vector<double>{1, 2, 3}, {1, 3})), Error);
  GmmOptions options;
  options.components = 10;
  EXPECT_THROW(
      GaussianMixture::fit(Tensor::from_vector(std::vector<double>(10, 0.0), {5, 2}), options),
      Error);
}

}  // namespace
}  // namespace kite::prior
