// The convolutional building blocks as modules: Conv2d, ConvTranspose2d, BatchNorm2d,
// AvgPool2d, MaxPool2d, Upsample (models/nn/). The ops underneath have their own tests; these
// check what the modules add: parameter shapes and names, initialisation bounds, running
// statistics and train/eval behaviour, input validation.
#include <gtest/gtest.h>

#include <cmath>

#include "models/nn/batchnorm.h"
#include "models/nn/conv.h"
#include "models/nn/pooling.h"
#include "ops/conv.h"
#include "ops/ops.h"

namespace kite::nn {
namespace {

std::vector<std::string> names_of(const NamedTensors& named) {
  std::vector<std::string> names;
  for (auto& [name, t] : named) names.push_back(name);
  return names;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : to_double_vector(t)) m = std::max(m, std::abs(v));
  return m;
}

template <class Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    FAIL() << "expected kite::Error";
  } catch (const Error& e) {
    for (const auto& fragment : fragments)
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
          << e.what() << "\nmissing: " << fragment;
  }
}

TEST(Conv2dLayer, ShapesNamesAndPyTorchInitBounds) {
  Generator generator(3);
  Conv2d conv(6, 8, {3, 5}, Conv2dOptions{.padding = {1, 2}}, true, DType::Float32, &generator);
  EXPECT_EQ(conv.weight.shape(), (Shape{8, 6, 3, 5}));
  EXPECT_EQ(conv.bias.shape(), (Shape{8}));
  EXPECT_EQ(names_of(conv.named_parameters()), (std::vector<std::string>{"weight", "bias"}));
  // kaiming_uniform(a = sqrt(5)) and the bias rule both give bound 1 / sqrt(fan_in).
  const double bound = 1.0 / std::sqrt(6.0 * 3 * 5);
  EXPECT_LE(max_abs(conv.weight), bound);
  EXPECT_GT(max_abs(conv.weight), 0.9 * bound);  // 720 draws fill the range
  EXPECT_LE(max_abs(conv.bias), bound);
  EXPECT_GT(max_abs(conv.bias), 0.0);
  // Same seed, same weights.
  Generator again(3);
  Conv2d twin(6, 8, {3, 5}, Conv2dOptions{.padding = {1, 2}}, true, DType::Float32, &again);
  EXPECT_EQ(to_double_vector(conv.weight), to_double_vector(twin.weight));

  Tensor y = conv(randn({2, 6, 7, 9}));
  EXPECT_EQ(y.shape(), (Shape{2, 8, 7, 9}));
}

TEST(Conv2dLayer, ForwardMatchesHandComputedValues) {
  Conv2d conv(1, 1, 2, Conv2dOptions{}, true, DType::Float64);
  {
    NoGradGuard no_grad;
    copy_(conv.weight, Tensor::from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2}));
    copy_(conv.bias, Tensor::from_vector<double>({0.5}, {1}));
  }
  // x = [[1 2 3], [4 5 6], [7 8 9]]; out[i][j] = sum w * window + 0.5.
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  std::vector<double> expected = {
      1 * 1 + 2 * 2 + 3 * 4 + 4 * 5 + 0.5, 1 * 2 + 2 * 3 + 3 * 5 + 4 * 6 + 0.5,
      1 * 4 + 2 * 5 + 3 * 7 + 4 * 8 + 0.5, 1 * 5 + 2 * 6 + 3 * 8 + 4 * 9 + 0.5};
  EXPECT_EQ(to_double_vector(conv(x)), expected);
}

TEST(Conv2dLayer, WithoutBiasAndGrouped) {
  Conv2d conv(4, 6, 3, Conv2dOptions{.padding = 1, .groups = 2}, false);
  EXPECT_FALSE(conv.bias.defined());
  EXPECT_EQ(conv.weight.shape(), (Shape{6, 2, 3, 3}));
  EXPECT_EQ(conv.num_parameters(), 6 * 2 * 3 * 3);
  EXPECT_EQ(conv(randn({1, 4, 5, 5})).shape(), (Shape{1, 6, 5, 5}));
}

TEST(Conv2dLayer, RejectsBadConfigurationAndInput) {
  expect_error([] { Conv2d(4, 6, 3, Conv2dOptions{.groups = 4}); }, {"Conv2d", "groups"});
  expect_error([] { Conv2d(0, 6, 3); }, {"Conv2d", "positive"});
  Conv2d conv(3, 4, 3);
  expect_error(
      [&] {
        conv(randn({2, 5, 8, 8}));
      },
      {"Conv2d", "[N, 3, H, W]", "float32[2, 5, 8, 8]"});
  expect_error([&] { conv(randn({5, 8, 8})); }, {"Conv2d", "[5, 8, 8]"});
}

TEST(ConvTranspose2dLayer, ShapesAndAdjointOfConv2d) {
  Generator generator(5);
  ConvTranspose2d deconv(4, 3, 3,
                         ConvTranspose2dOptions{.stride = 2, .padding = 1, .output_padding = 1},
                         true, DType::Float64, &generator);
  EXPECT_EQ(deconv.weight.shape(), (Shape{4, 3, 3, 3}));
  EXPECT_EQ(deconv.bias.shape(), (Shape{3}));
  const double bound =
      1.0 / std::sqrt(3.0 * 9);  // fan_in from the weight's second axis, as PyTorch
  EXPECT_LE(max_abs(deconv.weight), bound);
  EXPECT_LE(max_abs(deconv.bias), bound);

  Tensor y = randn({2, 4, 5, 5}, DType::Float64);
  Tensor up = deconv(y);
  EXPECT_EQ(up.shape(), (Shape{2, 3, 10, 10}));  // (5 - 1) * 2 - 2 + 3 + 1

  // <deconv(y) - b, x> == <y, conv2d(x, W)> for the same weight: the transposed convolution
  // is the adjoint of the convolution with matching stride and padding.
  Tensor x = randn({2, 3, 10, 10}, DType::Float64);
  Tensor lhs = sum((up - reshape(deconv.bias, {1, 3, 1, 1})) * x);
  Tensor rhs =
      sum(y * conv2d(x, deconv.weight, Tensor(), Conv2dOptions{.stride = 2, .padding = 1}));
  EXPECT_NEAR(lhs.item<double>(), rhs.item<double>(), 1e-9 * std::abs(rhs.item<double>()) + 1e-12);
}

TEST(BatchNorm2dLayer, ParametersAndBuffersAreNamedLikePyTorch) {
  BatchNorm2d bn(3);
  EXPECT_EQ(names_of(bn.named_parameters()), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(names_of(bn.named_buffers()),
            (std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"}));
  EXPECT_EQ(to_double_vector(bn.weight), (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(to_double_vector(bn.bias), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(to_double_vector(bn.running_var), (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(bn.num_batches_tracked.dtype(), DType::Int64);
  EXPECT_EQ(bn.num_batches_tracked.dim(), 0);
  // Casting the module keeps the counter an integer.
  bn.to(DType::Float64);
  EXPECT_EQ(bn.weight.dtype(), DType::Float64);
  EXPECT_EQ(bn.running_mean.dtype(), DType::Float64);
  EXPECT_EQ(bn.num_batches_tracked.dtype(), DType::Int64);
}

TEST(BatchNorm2dLayer, TrainingNormalisesAndUpdatesRunningStatistics) {
  BatchNorm2d bn(2, BatchNormOptions{.momentum = 0.25}, DType::Float64);
  // Channel 0 holds 1..8, channel 1 holds 10 * (1..8), over 2 images of 2x2.
  std::vector<double> values(16);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 2; ++c)
      for (int i = 0; i < 4; ++i) values[(n * 2 + c) * 4 + i] = (c ? 10.0 : 1.0) * (n * 4 + i + 1);
  Tensor x = Tensor::from_vector(values, {2, 2, 2, 2});
  Tensor y = bn(x);
  // Mean 4.5, biased variance 5.25, unbiased 6 (x100 for channel 1).
  std::vector<double> out = to_double_vector(y);
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 4; ++i)
      for (int c = 0; c < 2; ++c) {
        const double v = n * 4 + i + 1;
        const double scale = c ? 10.0 : 1.0;
        EXPECT_NEAR(out[(n * 2 + c) * 4 + i],
                    (v - 4.5) * scale / std::sqrt(5.25 * scale * scale + 1e-5), 1e-12);
      }
  EXPECT_EQ(to_double_vector(bn.running_mean), (std::vector<double>{0.25 * 4.5, 0.25 * 45}));
  std::vector<double> running_var = to_double_vector(bn.running_var);
  EXPECT_NEAR(running_var[0], 0.75 + 0.25 * 6, 1e-12);
  EXPECT_NEAR(running_var[1], 0.75 + 0.25 * 600, 1e-10);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 1);
  bn(x);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 2);
}

TEST(BatchNorm2dLayer, EvaluationUsesRunningStatisticsAndLeavesThemAlone) {
  BatchNorm2d bn(2, BatchNormOptions{}, DType::Float64);
  {
    NoGradGuard no_grad;
    copy_(bn.running_mean, Tensor::from_vector<double>({1, -2}, {2}));
    copy_(bn.running_var, Tensor::from_vector<double>({4, 0.25}, {2}));
    copy_(bn.weight, Tensor::from_vector<double>({2, 3}, {2}));
    copy_(bn.bias, Tensor::from_vector<double>({0.5, -1}, {2}));
  }
  bn.eval();
  Tensor x = Tensor::from_vector<double>({3, 5, 0, 1}, {1, 2, 1, 2});
  std::vector<double> out = to_double_vector(bn(x));
  EXPECT_NEAR(out[0], 2 * (3 - 1) / std::sqrt(4 + 1e-5) + 0.5, 1e-12);
  EXPECT_NEAR(out[1], 2 * (5 - 1) / std::sqrt(4 + 1e-5) + 0.5, 1e-12);
  EXPECT_NEAR(out[2], 3 * (0 + 2) / std::sqrt(0.25 + 1e-5) - 1, 1e-12);
  EXPECT_NEAR(out[3], 3 * (1 + 2) / std::sqrt(0.25 + 1e-5) - 1, 1e-12);
  EXPECT_EQ(to_double_vector(bn.running_mean), (std::vector<double>{1, -2}));
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 0);
  // A single value per channel is fine in evaluation mode, not in training.
  bn.train();
  expect_error(
      [&] {
        bn(randn({1, 2, 1, 1}, DType::Float64));
      },
      {"BatchNorm2d", "more than one value"});
}

TEST(BatchNorm2dLayer, WithoutAffineOrRunningStatistics) {
  BatchNorm2d plain(3, BatchNormOptions{.affine = false, .track_running_stats = false});
  EXPECT_EQ(plain.num_parameters(), 0);
  EXPECT_TRUE(plain.named_buffers().empty());
  plain.eval();  // still normalises with the batch's own statistics
  Tensor y = plain(randn({4, 3, 5, 5}) * 3.0 + 2.0);
  std::vector<double> means = to_double_vector(mean(y, {0, 2, 3}));
  for (double m : means) EXPECT_NEAR(m, 0.0, 1e-5);
  expect_error([&] { plain(randn({4, 2, 5, 5})); }, {"BatchNorm2d", "[N, 3, H, W]"});
}

TEST(BatchNorm2dLayer, GradientFlowsToInputAndAffineParameters) {
  BatchNorm2d bn(2, BatchNormOptions{}, DType::Float64);
  Tensor x = randn({3, 2, 2, 2}, DType::Float64).set_requires_grad(true);
  Tensor w = randn({3, 2, 2, 2}, DType::Float64);
  sum(bn(x) * w).backward();
  ASSERT_TRUE(bn.weight.grad().defined());
  ASSERT_TRUE(bn.bias.grad().defined());
  // d/dbias = sum of the incoming gradient per channel.
  std::vector<double> expected = to_double_vector(sum(w, {0, 2, 3}));
  std::vector<double> got = to_double_vector(bn.bias.grad());
  for (int c = 0; c < 2; ++c) EXPECT_NEAR(got[c], expected[c], 1e-12);
  // The normalised output is invariant to shifting a channel, so its input gradient sums to 0.
  std::vector<double> gx = to_double_vector(sum(x.grad(), {0, 2, 3}));
  for (double v : gx) EXPECT_NEAR(v, 0.0, 1e-10);
}

TEST(PoolingLayers, AveragePoolMaxPoolAndNearestUpsample) {
  Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
                                         {1, 1, 4, 4});
  AvgPool2d avg(2);
  EXPECT_EQ(to_double_vector(avg(x)), (std::vector<double>{3.5, 5.5, 11.5, 13.5}));
  MaxPool2d max(2);
  EXPECT_EQ(to_double_vector(max(x)), (std::vector<double>{6, 8, 14, 16}));
  Upsample up(2);
  Tensor small = Tensor::from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2});
  EXPECT_EQ(to_double_vector(up(small)),
            (std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
  EXPECT_EQ(up.num_parameters(), 0);
  // Pooling undoes nearest upsampling exactly.
  Tensor z = randn({2, 3, 5, 7}, DType::Float64);
  EXPECT_EQ(to_double_vector(avg(up(z))), to_double_vector(z));
  expect_error([] { Upsample(0); }, {"Upsample", "positive"});
}

TEST(PoolingLayers, ComposeInSequential) {
  Sequential net({std::make_shared<Conv2d>(1, 4, 3, Conv2dOptions{.padding = 1}),
                  std::make_shared<BatchNorm2d>(4), std::make_shared<AvgPool2d>(2),
                  std::make_shared<Upsample>(Size2d{2, 3})});
  EXPECT_EQ(net(randn({2, 1, 6, 6})).shape(), (Shape{2, 4, 6, 9}));
  EXPECT_EQ(names_of(net.named_buffers()),
            (std::vector<std::string>{"1.running_mean", "1.running_var", "1.num_batches_tracked"}));
}

}  // namespace
}  // namespace kite::nn
