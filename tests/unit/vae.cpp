// VAE baselines: the KL closed form against Monte Carlo, the reparameterisation gradient
// against its expectation, the Gaussian decoder's NLL against the loss op, the plain-AE
// limit, the learnt gamma's gradient and optimum, and the 2-stage model's plumbing.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/error.h"
#include "models/vae/two_stage_vae.h"
#include "models/vae/vae.h"
#include "ops/ops.h"

namespace kite::vae {
namespace {

ae::AutoencoderConfig tiny_architecture() {
  ae::AutoencoderConfig config;
  config.image_size = 8;
  config.image_channels = 1;
  config.channels = {4};
  config.latent_dim = 3;
  return config;
}

TEST(Vae, KlClosedFormMatchesMonteCarlo) {
  Generator generator(4);
  Posterior q{Tensor::from_vector(std::vector<double>{0.5, -1.0, 0.2}, {1, 3}),
              Tensor::from_vector(std::vector<double>{-0.7, 0.4, 0.0}, {1, 3})};
  const double closed = kl_per_item(q).item<double>();
  // KL = E_q[log q(z) - log p(z)] with z = mu + sigma eps.
  const int64_t n = 400000;
  Tensor eps = randn({n, 3}, DType::Float64, Device::cpu(), &generator);
  Tensor sigma = exp(q.log_var * 0.5);
  Tensor z = q.mean + sigma * eps;
  Tensor log_q = sum(square(eps) * -0.5 - q.log_var * 0.5, {1});
  Tensor log_p = sum(square(z) * -0.5, {1});
  Tensor diff = log_q - log_p;
  const double mc = mean(diff).item<double>();
  const double standard_error = std::sqrt(var(diff).item<double>() / n);
  EXPECT_NEAR(mc, closed, 4 * standard_error);
  // And the formula itself by hand: 0.5 sum(mu^2 + e^lv - 1 - lv).
  double by_hand = 0;
  for (auto [m, lv] : {std::pair{0.5, -0.7}, {-1.0, 0.4}, {0.2, 0.0}})
    by_hand += 0.5 * (m * m + std::exp(lv) - 1 - lv);
  EXPECT_NEAR(closed, by_hand, 1e-14);
}

TEST(Vae, ReparameterisationGradientIsUnbiased) {
  // f(z) = sum z^2, E f = sum(mu^2 + e^lv): d/dmu = 2 mu, d/dlv = e^lv.
  Generator generator(8);
  Tensor mu = Tensor::from_vector(std::vector<double>{0.3, -0.8}, {1, 2}).set_requires_grad(true);
  Tensor lv = Tensor::from_vector(std::vector<double>{-0.5, 0.6}, {1, 2}).set_requires_grad(true);
  const int64_t n = 200000;
  Posterior q{expand(mu, {n, 2}), expand(lv, {n, 2})};
  Tensor z = reparameterize(q, &generator);
  Tensor f = mean(sum(square(z), {1}));
  f.backward();
  std::vector<double> gmu = to_double_vector(mu.grad()), glv = to_double_vector(lv.grad());
  // Standard errors: d/dmu_j = 2 z_j has sd 2 sigma / sqrt(n); d/dlv_j = z_j sigma eps_j has
  // sd <= ~3 sigma^2 / sqrt(n) for these values. 5-sigma bounds:
  for (int j = 0; j < 2; ++j) {
    const double m = j ? -0.8 : 0.3, l = j ? 0.6 : -0.5, s = std::exp(0.5 * l);
    EXPECT_NEAR(gmu[j], 2 * m, 5 * 2 * s / std::sqrt(double(n)));
    EXPECT_NEAR(glv[j], std::exp(l), 5 * 3 * s * s / std::sqrt(double(n)));
  }
}

TEST(Vae, GaussianDecoderNllMatchesTheLossOp) {
  manual_seed(3);
  Tensor prediction = randn({2, 1, 4, 4}, DType::Float64),
         target = randn({2, 1, 4, 4}, DType::Float64);
  const double log_gamma = std::log(0.3);
  Tensor mine = gaussian_nll_per_item(prediction, target, full({1}, log_gamma, DType::Float64));
  Tensor reference = sum(
      flatten(gaussian_nll(target, prediction, full_like(target, log_gamma), Reduction::None), 1),
      {1});
  std::vector<double> a = to_double_vector(mine), b = to_double_vector(reference);
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(a[i], b[i], 1e-12);
}

TEST(Vae, GammaZeroIsThePlainAutoencoder) {
  VaeConfig config{tiny_architecture(), 0.0, false, 1.0};
  Vae model(config, DType::Float64);
  model.eval();
  manual_seed(1);
  Tensor x = rand({3, 1, 8, 8}, DType::Float64);
  VaeLoss loss = model.loss(x);
  // Deterministic: the loss is the MSE of the reconstruction from the posterior mean, with
  // no noise and no KL.
  EXPECT_NEAR(loss.total.item<double>(), mse_loss(model.reconstruct(x), x).item<double>(), 1e-14);
  EXPECT_EQ(loss.kl, 0.0);
  EXPECT_EQ(model.gamma(), 0.0);
  EXPECT_EQ(model.loss(x).total.item<double>(), loss.total.item<double>());
}

TEST(Vae, ParametersAndShapes) {
  Vae fixed({tiny_architecture(), 0.5, false, 1.0}, DType::Float64);
  Vae learnt({tiny_architecture(), 1.0, true, 1.0}, DType::Float64);
  auto names = [](const Vae& m) {
    std::vector<std::string> out;
    for (auto& [name, t] : m.named_parameters()) out.push_back(name);
    return out;
  };
  auto has = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  EXPECT_FALSE(has(names(fixed), "log_gamma"));
  EXPECT_TRUE(fixed.state_dict().count("log_gamma"));  // a buffer: saved, not trained
  EXPECT_TRUE(has(names(learnt), "log_gamma"));
  EXPECT_EQ(learnt.network_parameters().size() + 1, learnt.parameters().size());
  EXPECT_NEAR(fixed.gamma(), 0.5, 1e-15);
  // The encoder's head is twice the latent size; the posterior halves it.
  EXPECT_EQ(fixed.state_dict().at("encoder.fc.weight").size(0), 6);
  Tensor x = rand({2, 1, 8, 8}, DType::Float64);
  Posterior q = fixed.encode(x);
  EXPECT_EQ(q.mean.shape(), (Shape{2, 3}));
  EXPECT_EQ(q.log_var.shape(), (Shape{2, 3}));
  EXPECT_EQ(fixed.sample(5).shape(), (Shape{5, 1, 8, 8}));
  EXPECT_THROW(Vae({tiny_architecture(), 0.0, true, 1.0}), Error);
  EXPECT_THROW(Vae({tiny_architecture(), 1.0, false, 0.0}), Error);
}

TEST(Vae, LearntGammaGradientAndOptimum) {
  Vae model({tiny_architecture(), 1.0, true, 1.0}, DType::Float64);
  model.eval();
  manual_seed(2);
  Tensor x = rand({4, 1, 8, 8}, DType::Float64);
  Generator generator(6);
  VaeLoss loss = model.loss(x, &generator);
  loss.total.backward();
  // d/d log_gamma of mean(sse e^-lg / 2 + D/2 lg + ...) / D at lg = 0: (D - sse) / (2 D).
  const double d = 64;
  EXPECT_NEAR(model.log_gamma.grad().item<double>(), (d - loss.sse) / (2 * d), 1e-12);
  // At gamma = sse / D the derivative vanishes (the optimum is the per-pixel MSE).
  {
    NoGradGuard no_grad;
    fill_(model.log_gamma, std::log(loss.sse / d));
  }
  model.zero_grad();
  Generator same(6);
  model.loss(x, &same).total.backward();
  EXPECT_NEAR(model.log_gamma.grad().item<double>(), 0.0, 1e-12);
}

TEST(TwoStageVae, ShapesLossAndSampling) {
  SecondStageConfig second{3, 16, 3};
  TwoStageVae model({tiny_architecture(), 1.0, true, 1.0}, second, DType::Float64);
  // Stage 2's MLPs: 3 hidden layers and an output layer reading [input, hidden].
  auto state = model.state_dict();
  EXPECT_EQ(state.at("stage2.encoder.out.weight").shape(), (Shape{6, 3 + 16}));
  EXPECT_EQ(state.at("stage2.decoder.out.weight").shape(), (Shape{3, 3 + 16}));
  EXPECT_TRUE(state.count("stage2.encoder.fc2.weight"));
  EXPECT_TRUE(state.count("stage2.log_gamma"));
  Generator generator(3);
  EXPECT_EQ(model.sample(4, &generator).shape(), (Shape{4, 1, 8, 8}));
  EXPECT_EQ(model.sample_codes(4, &generator).shape(), (Shape{4, 3}));
  Tensor z = randn({5, 3}, DType::Float64);
  VaeLoss loss = model.stage2->loss(z, &generator);
  EXPECT_TRUE(std::isfinite(loss.total.item<double>()));
  EXPECT_GT(loss.kl, 0.0);
  EXPECT_THROW(TwoStageVae({tiny_architecture(), 1.0, true, 1.0}, {4, 16, 3}), Error);
}

TEST(TwoStageVae, SecondStageLearnsToReconstructCodes) {
  // A few Adam steps on fixed 2-D codes lower the loss (the model and gradients are wired).
  manual_seed(0);
  SecondStage stage({2, 32, 3}, DType::Float64);
  Tensor z = randn({64, 2}, DType::Float64) * 2.0 + 1.0;
  Generator generator(1);
  const double before = stage.loss(z, &generator).total.item<double>();
  std::vector<Tensor> params = stage.parameters();
  for (int step = 0; step < 150; ++step) {
    for (auto& p : params) p.zero_grad();
    stage.loss(z, &generator).total.backward();
    NoGradGuard no_grad;
    for (auto& p : params)
      if (p.grad().defined()) copy_(p, p - p.grad() * 0.01);
  }
  const double after = stage.loss(z, &generator).total.item<double>();
  EXPECT_LT(after, before - 0.2);
}

}  // namespace
}  // namespace kite::vae
