// Precise BatchNorm statistics: the running mean and variance become the plain average of the
// per-batch statistics over the given batches, in every BatchNorm of a nested model, and the
// layers' momentum and the model's mode are restored.
#include <gtest/gtest.h>

#include <memory>

#include "engine/error.h"
#include "models/nn/batchnorm.h"
#include "models/nn/precise_batchnorm.h"
#include "ops/ops.h"

namespace kite::nn {
namespace {

// Two BatchNorms, the second inside a child module: y = bn2(2 bn1(x) + 1).
struct Inner : Module {
  std::shared_ptr<BatchNorm2d> bn2 =
      register_module("bn2", std::make_shared<BatchNorm2d>(2, BatchNormOptions{}, DType::Float64));
};
struct Net : Module {
  std::shared_ptr<BatchNorm2d> bn1 =
      register_module("bn1", std::make_shared<BatchNorm2d>(2, BatchNormOptions{}, DType::Float64));
  std::shared_ptr<Inner> inner = register_module("inner", std::make_shared<Inner>());
  Tensor forward(const Tensor& x) { return (*inner->bn2)((*bn1)(x)*2.0 + 1.0); }
};

TEST(PreciseBatchNorm, RunningStatisticsAreTheAverageOverBatches) {
  manual_seed(3);
  Net net;
  net.eval();
  // Three batches of 4 images of 3x3, channel c offset by 5c and scaled by 1 + c.
  std::vector<Tensor> batches;
  for (int i = 0; i < 3; ++i)
    batches.push_back(randn({4, 2, 3, 3}, DType::Float64) *
                          Tensor::from_vector<double>({1, 2}, {1, 2, 1, 1}) +
                      Tensor::from_vector<double>({0, 5}, {1, 2, 1, 1}) + static_cast<double>(i));
  int calls = 0;
  const int layers = recompute_batch_norm_statistics(net, 3, [&](int64_t i) {
    ++calls;
    EXPECT_TRUE(net.is_training());
    net.forward(batches[i]);
  });
  EXPECT_EQ(layers, 2);
  EXPECT_EQ(calls, 3);
  EXPECT_FALSE(net.is_training());
  EXPECT_DOUBLE_EQ(net.bn1->options().momentum, 0.1);
  EXPECT_DOUBLE_EQ(net.inner->bn2->options().momentum, 0.1);
  // bn1: the mean over batches of each batch's mean and unbiased variance per channel.
  std::vector<double> expected_mean(2, 0.0), expected_var(2, 0.0);
  for (const Tensor& b : batches) {
    const std::vector<double> m = to_double_vector(mean(b, {0, 2, 3}));
    const std::vector<double> v = to_double_vector(var(b, {0, 2, 3}, true));
    for (int c = 0; c < 2; ++c) expected_mean[c] += m[c] / 3, expected_var[c] += v[c] / 3;
  }
  const std::vector<double> running_mean = to_double_vector(net.bn1->running_mean);
  const std::vector<double> running_var = to_double_vector(net.bn1->running_var);
  for (int c = 0; c < 2; ++c) {
    EXPECT_NEAR(running_mean[c], expected_mean[c], 1e-12) << "channel " << c;
    EXPECT_NEAR(running_var[c], expected_var[c], 1e-12) << "channel " << c;
  }
  // bn2 sees 2 * (batch-normalised) + 1 in training mode: mean 1 and biased variance 4 (up
  // to bn1's eps) in every batch, so an unbiased 4 * 36 / 35 on average.
  for (double m : to_double_vector(net.inner->bn2->running_mean)) EXPECT_NEAR(m, 1.0, 1e-9);
  for (double v : to_double_vector(net.inner->bn2->running_var))
    EXPECT_NEAR(v, 4.0 * 36 / 35, 1e-3);
  EXPECT_EQ(net.bn1->num_batches_tracked.item<int64_t>(), 3);
}

TEST(PreciseBatchNorm, WithoutBatchNormNothingRuns) {
  Module plain;
  int calls = 0;
  EXPECT_EQ(recompute_batch_norm_statistics(plain, 5, [&](int64_t) { ++calls; }), 0);
  EXPECT_EQ(calls, 0);
  EXPECT_THROW(recompute_batch_norm_statistics(plain, 0, [](int64_t) {}), Error);
}

}  // namespace
}  // namespace kite::nn
