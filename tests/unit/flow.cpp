// The i-ResNet flow in float64 on small d: log-determinants three ways against each other
// and against finite differences, inverse round trips, normalisation of the density,
// spectral normalisation against an exact SVD.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/gradcheck.h"
#include "flow_test_util.h"
#include "models/flow/iresnet.h"
#include "ops/det.h"
#include "ops/ops.h"

namespace kite::flow {
namespace {

BlockConfig small_block(int64_t d, double coeff = 0.9, Activation act = Activation::ELU) {
  return {d, 16, coeff, 1, act};
}

// Makes the block's g large enough to matter (the last layer starts near zero).
void scale_up_last_layer(IResBlock& block) {
  NoGradGuard no_grad;
  auto l3 = block.layers()[2];
  copy_(l3->weight, randn(l3->weight.shape(), DType::Float64));
  l3->update_sigma(50);
}

// d x d Jacobian of x -> x + g(x) at one sample by central differences.
std::vector<double> fd_jacobian(IResBlock& block, const std::vector<double>& x0) {
  const int64_t d = static_cast<int64_t>(x0.size());
  std::vector<double> jac(d * d);
  NoGradGuard no_grad;
  for (int64_t j = 0; j < d; ++j) {
    std::vector<double> xp = x0, xm = x0;
    xp[j] += 1e-6;
    xm[j] -= 1e-6;
    std::vector<double> yp =
        to_double_vector(block.forward(Tensor::from_vector(xp, {1, d}), nullptr));
    std::vector<double> ym =
        to_double_vector(block.forward(Tensor::from_vector(xm, {1, d}), nullptr));
    for (int64_t i = 0; i < d; ++i) jac[i * d + j] = (yp[i] - ym[i]) / 2e-6;
  }
  return jac;
}

class FlowTest : public ::testing::TestWithParam<Activation> {
 protected:
  void SetUp() override { manual_seed(11); }
};

TEST_P(FlowTest, ExactLogdetMatchesFiniteDifferenceJacobian) {
  const int64_t d = 4;
  IResBlock block(small_block(d, 0.9, GetParam()), DType::Float64);
  block.eval();
  scale_up_last_layer(block);
  Tensor x = randn({3, d}, DType::Float64);
  Tensor logdet;
  block.forward(x, &logdet);
  std::vector<double> exact = to_double_vector(logdet);
  std::vector<double> xs = to_double_vector(x);
  for (int64_t b = 0; b < 3; ++b) {
    std::vector<double> jac =
        fd_jacobian(block, std::vector<double>(xs.begin() + b * d, xs.begin() + (b + 1) * d));
    double fd = logabsdet(Tensor::from_vector(jac, {d, d})).item<double>();
    EXPECT_NEAR(exact[b], fd, 1e-7) << "sample " << b;
  }
}

TEST_P(FlowTest, SeriesWithExactTracesMatchesExact) {
  const int64_t d = 3;
  IResBlock block(small_block(d, 0.5, GetParam()), DType::Float64);
  block.eval();
  scale_up_last_layer(block);
  Tensor x = randn({2, d}, DType::Float64);
  Tensor exact, series;
  block.forward(x, &exact);
  LogdetOptions options{LogdetMethod::Series, 40, nullptr, true};
  block.forward(x, &series, options);
  std::vector<double> e = to_double_vector(exact), s = to_double_vector(series);
  for (size_t i = 0; i < e.size(); ++i) EXPECT_NEAR(s[i], e[i], 1e-8);
}

TEST_P(FlowTest, StochasticEstimatorsAverageToExact) {
  const int64_t d = 3;
  IResBlock block(small_block(d, 0.6, GetParam()), DType::Float64);
  block.eval();
  scale_up_last_layer(block);
  // Many copies of one sample: each row gets its own probe, so the batch mean is a Monte-Carlo
  // average of the estimator.
  const int64_t copies = 1000;
  Tensor x = expand(randn({1, d}, DType::Float64), {copies, d});
  Tensor exact;
  block.forward(narrow(x, 0, 0, 1), &exact);
  Generator generator(5);
  for (LogdetMethod method : {LogdetMethod::Series, LogdetMethod::RussianRoulette}) {
    // The roulette draws one truncation N per call (shared by the batch, as in Residual
    // Flows), so it is averaged over many calls of 20 rows each.
    std::vector<double> values;
    const int64_t rows_per_call = method == LogdetMethod::Series ? copies : 20;
    for (int64_t done = 0; done < copies; done += rows_per_call) {
      Tensor estimate;
      block.forward(contiguous(narrow(x, 0, 0, rows_per_call)), &estimate,
                    {method, 20, &generator, false});
      std::vector<double> part = to_double_vector(estimate);
      values.insert(values.end(), part.begin(), part.end());
    }
    double mean_value = 0, sq = 0;
    for (double v : values) mean_value += v / copies;
    for (double v : values) sq += (v - mean_value) * (v - mean_value) / (copies - 1);
    double standard_error = std::sqrt(sq / copies);
    EXPECT_NEAR(mean_value, exact.item<double>(), 4 * standard_error + 1e-6)
        << (method == LogdetMethod::Series ? "series" : "russian roulette");
  }
}

TEST_P(FlowTest, InverseRoundTrips) {
  IResNet flow({5, 3, 16, 0.9, 1, GetParam(), true}, DType::Float64);
  Tensor x = randn({8, 5}, DType::Float64);
  flow.forward(x);  // data-initialises ActNorm
  flow.eval();
  for (auto& block : flow.blocks()) scale_up_last_layer(*block);
  Tensor z = flow.forward(x).z;
  InverseStats stats;
  Tensor back = flow.inverse(z, {1e-12, 1e-12, 2000}, &stats);
  std::vector<double> a = to_double_vector(back), b = to_double_vector(x);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6);
  EXPECT_LT(stats.max_residual, 1e-9);
  EXPECT_GT(stats.iterations, 1);
}

INSTANTIATE_TEST_SUITE_P(Activations, FlowTest,
                         ::testing::Values(Activation::ELU, Activation::LipSwish));

TEST(Flow, DensityIntegratesToOneIn2D) {
  manual_seed(2);
  IResNet flow({2, 2, 16, 0.9, 1, Activation::ELU, true}, DType::Float64);
  flow.forward(randn({64, 2}, DType::Float64) * 0.7);
  flow.eval();
  for (auto& block : flow.blocks()) scale_up_last_layer(*block);
  EXPECT_NEAR(test::probability_mass_2d(flow, 8.0, 161), 1.0, 0.01);
}

TEST(Flow, PowerIterationSigmaMatchesExactSvd) {
  manual_seed(4);
  nn::SNLinear layer(2, 2, 100.0, 1, DType::Float64);
  {
    NoGradGuard no_grad;
    copy_(layer.weight, Tensor::from_vector<double>({3, 1, 1, 2}, {2, 2}));
  }
  // Largest singular value of [[3, 1], [1, 2]] (symmetric): its largest eigenvalue.
  const double exact = (5 + std::sqrt(5.0)) / 2;
  EXPECT_NEAR(layer.update_sigma(100), exact, 1e-10);
}

TEST(Flow, SpectralNormalisationCapsAtCoefficient) {
  manual_seed(5);
  nn::SNLinear layer(6, 4, 0.9, 1, DType::Float64);
  {
    NoGradGuard no_grad;
    copy_(layer.weight, randn({4, 6}, DType::Float64) * 3.0);
  }
  layer.update_sigma(100);
  EXPECT_NEAR(layer.applied_spectral_norm(500), 0.9, 1e-8);
}

TEST(Flow, ExactLogdetGradientPassesGradcheck) {
  manual_seed(6);
  IResBlock block(small_block(3), DType::Float64);
  block.eval();
  scale_up_last_layer(block);
  Tensor x = randn({2, 3}, DType::Float64).set_requires_grad(true);
  auto f = [&](const std::vector<Tensor>& in) {
    Tensor logdet;
    Tensor y = block.forward(in[0], &logdet);
    return logdet + sum(y, {1});
  };
  GradcheckResult r = gradcheck(f, {x});
  EXPECT_TRUE(r.ok) << r.message;
}

}  // namespace
}  // namespace kite::flow
