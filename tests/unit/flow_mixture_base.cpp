// The flow's Gaussian-mixture base: it computes the fitted mixture's density exactly, its
// gradients pass a float64 finite-difference check, its samples follow the weights and the
// temperature, and a flow on it is still a normalised density that inverts its own samples.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "engine/error.h"
#include "engine/gradcheck.h"
#include "flow_test_util.h"
#include "models/flow/iresnet.h"
#include "ops/ops.h"

namespace kite::flow {
namespace {

// Two well-separated correlated 2-D components, weights 0.3 and 0.7.
prior::GaussianMixture two_clusters() {
  return prior::GaussianMixture::from_parameters({0.3, 0.7}, {-4, 1, 5, -2},
                                                 {1.0, 0.5, 0.5, 2.0,  //
                                                  0.7, -0.3, -0.3, 0.4},
                                                 2);
}

TEST(MixtureBase, LogProbIsTheMixtureDensity) {
  const prior::GaussianMixture mixture = two_clusters();
  MixtureBase base(2, 2, DType::Float64);
  base.set_from(mixture);
  Tensor z = randn({50, 2}, DType::Float64) * 4.0;
  NoGradGuard no_grad;
  const std::vector<double> ours = to_double_vector(base.log_prob(z));
  const std::vector<double> reference = to_double_vector(mixture.log_prob(z));
  const std::vector<double> round_trip = to_double_vector(base.to_gaussian_mixture().log_prob(z));
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_NEAR(ours[i], reference[i], 1e-10) << "row " << i;
    EXPECT_NEAR(round_trip[i], reference[i], 1e-10) << "row " << i;
  }
}

TEST(MixtureBase, GradientsPassGradcheck) {
  manual_seed(11);
  MixtureBase base(3, 2, DType::Float64);
  {
    NoGradGuard no_grad;
    copy_(base.means, randn({3, 2}, DType::Float64));
    copy_(base.whitening, randn({3, 2, 2}, DType::Float64) * 0.5 +
                              Tensor::from_vector<double>({1, 0, 0, 1}, {2, 2}));
    copy_(base.logits, randn({3}, DType::Float64));
  }
  Tensor z = randn({4, 2}, DType::Float64).set_requires_grad(true);
  // The parameters are the module's own tensors: gradcheck perturbs them in place.
  auto f = [&](const std::vector<Tensor>& in) { return base.log_prob(in[0]); };
  GradcheckResult r = gradcheck(f, {z, base.means, base.whitening, base.logits});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(MixtureBase, SamplesFollowWeightsAndTemperature) {
  // Components 20 units apart, so that even at T = 2 (sd <= 2) the sign of z_0 tells them
  // apart without cutting a tail.
  const prior::GaussianMixture mixture = prior::GaussianMixture::from_parameters(
      {0.3, 0.7}, {-10, 1, 10, -2}, {1.0, 0.5, 0.5, 2.0, 0.7, -0.3, -0.3, 0.4}, 2);
  MixtureBase base(2, 2, DType::Float64);
  base.set_from(mixture);
  const int64_t n = 40000;
  for (double temperature : {1.0, 2.0}) {
    Generator generator(3);
    const std::vector<double> z = to_double_vector(base.sample(n, &generator, temperature));
    double count0 = 0, sum_sq0 = 0;
    for (int64_t i = 0; i < n; ++i)
      if (z[i * 2] < 0) {
        count0 += 1;
        sum_sq0 += (z[i * 2] + 10) * (z[i * 2] + 10);
      }
    // Weight 0.3: sd of the fraction over 40000 draws is 0.0023.
    EXPECT_NEAR(count0 / n, 0.3, 0.01) << "T = " << temperature;
    // The first coordinate's variance in component 0 is T^2 * 1.0 (sampling sd about 1.3%).
    EXPECT_NEAR(sum_sq0 / count0, temperature * temperature, 0.05 * temperature * temperature)
        << "T = " << temperature;
  }
}

TEST(MixtureBase, RejectsMismatchedFitsAndInputs) {
  MixtureBase base(3, 2, DType::Float64);
  EXPECT_THROW(base.set_from(two_clusters()), Error);  // 2 components, not 3
  EXPECT_THROW(base.log_prob(zeros({4, 3}, DType::Float64)), Error);
  EXPECT_THROW(MixtureBase(0, 2), Error);
}

std::unique_ptr<IResNet> mixture_flow() {
  auto flow = std::make_unique<IResNet>(
      IResNetConfig{2, 2, 16, 0.9, 1, Activation::LipSwish, true, 2}, DType::Float64);
  flow->forward(randn({64, 2}, DType::Float64) * 2.0);  // data-initialise the ActNorms
  flow->eval();
  flow->mixture_base()->set_from(two_clusters());
  return flow;
}

TEST(MixtureBase, FlowDensityIntegratesToOneIn2D) {
  manual_seed(12);
  std::unique_ptr<IResNet> owner = mixture_flow();
  IResNet& flow = *owner;
  EXPECT_NEAR(test::probability_mass_2d(flow, 12.0, 241), 1.0, 0.01);
}

TEST(MixtureBase, FlowSamplesAreInvertedBaseDraws) {
  manual_seed(13);
  std::unique_ptr<IResNet> owner = mixture_flow();
  IResNet& flow = *owner;
  Generator a(7), b(7);
  Tensor z = flow.sample_base(500, &a, 1.5);
  InverseStats stats;
  Tensor x = flow.sample(500, &b, 1.5, {1e-12, 1e-12, 2000}, &stats);
  NoGradGuard no_grad;
  EXPECT_LT(amax(abs(flow.transform(x) - z)).item<double>(), 1e-9);
  EXPECT_THROW(flow.sample(5, &a, 0.0), Error);
}

}  // namespace
}  // namespace kite::flow
