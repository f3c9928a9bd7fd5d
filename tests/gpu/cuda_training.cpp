// Training on the GPU gives the CPU's loss curve: a 2-layer MLP (Adam) and a small conv net
// (conv, batch norm, pooling, upsampling, dropout, SGD with momentum and gradient clipping)
// trained for 20 steps in float64 from the same initial values on both devices. Every kernel
// of a training step takes part, forward and backward. Also: a training loop in steady state
// makes no cudaMalloc call (the caching allocator serves everything).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "engine/generator.h"
#include "ops/conv.h"
#include "ops/norm.h"
#include "ops/ops.h"
#include "ops/pool.h"
#include "ops/upsample.h"
#include "tests/gpu/gpu_test.h"

#if defined(KITE_WITH_CUDA)
#include "cuda/allocator.h"
#endif

namespace kite {
namespace {

constexpr int kSteps = 20;

// A parameter: a leaf on `device` with values drawn on the CPU (so both devices start equal).
Tensor parameter(const Shape& shape, double scale, Generator& generator, Device device) {
  Tensor t = mul(randn(shape, DType::Float64, Device::cpu(), &generator), scale);
  t = to_device(t, device).detach();
  t.set_requires_grad(true);
  return t;
}

// ---- 2-layer MLP, Adam ----

struct Mlp {
  Tensor w1, b1, w2, b2;
  std::vector<Tensor> exp_avg, exp_avg_sq;
  std::vector<Tensor> params() const { return {w1, b1, w2, b2}; }
};

Mlp make_mlp(Device device) {
  Generator g(21);
  Mlp m{parameter({32, 10}, 0.3, g, device),
        parameter({32}, 0.1, g, device),
        parameter({3, 32}, 0.3, g, device),
        parameter({3}, 0.1, g, device),
        {},
        {}};
  for (const Tensor& p : m.params()) {
    m.exp_avg.push_back(zeros_like(p));
    m.exp_avg_sq.push_back(zeros_like(p));
  }
  return m;
}

// One Adam step on a fixed regression batch; returns the loss before the update.
double mlp_step(Mlp& m, const Tensor& x, const Tensor& y, int64_t step) {
  const Tensor hidden = tanh(linear(x, m.w1, m.b1));
  const Tensor loss = mse_loss(linear(hidden, m.w2, m.b2), y);
  loss.backward();
  NoGradGuard no_grad;
  std::vector<Tensor> params = m.params();  // handles: zero_grad() resets the leaves
  for (size_t i = 0; i < params.size(); ++i) {
    adam_step_(params[i], contiguous(params[i].grad()), m.exp_avg[i], m.exp_avg_sq[i],
               AdamParams{.lr = 1e-2}, step);
    params[i].zero_grad();
  }
  return loss.item<double>();
}

std::vector<double> train_mlp(Device device, int steps) {
  Generator data(3);
  const Tensor x = to_device(randn({64, 10}, DType::Float64, Device::cpu(), &data), device);
  const Tensor y = to_device(randn({64, 3}, DType::Float64, Device::cpu(), &data), device);
  Mlp m = make_mlp(device);
  std::vector<double> losses;
  for (int s = 1; s <= steps; ++s) losses.push_back(mlp_step(m, x, y, s));
  return losses;
}

// ---- small conv net, SGD with momentum ----

struct ConvNet {
  Tensor c1_w, c1_b, bn_w, bn_b, c2_w, c2_b, fc_w, fc_b;
  Tensor running_mean, running_var;
  std::vector<Tensor> momentum;
  std::vector<Tensor> params() const { return {c1_w, c1_b, bn_w, bn_b, c2_w, c2_b, fc_w, fc_b}; }
};

ConvNet make_conv_net(Device device) {
  Generator g(22);
  ConvNet n;
  n.c1_w = parameter({6, 3, 3, 3}, 0.3, g, device);
  n.c1_b = parameter({6}, 0.1, g, device);
  n.bn_w = to_device(ones({6}, DType::Float64), device).detach().set_requires_grad(true);
  n.bn_b = to_device(zeros({6}, DType::Float64), device).detach().set_requires_grad(true);
  n.c2_w = parameter({8, 6, 3, 3}, 0.2, g, device);
  n.c2_b = parameter({8}, 0.1, g, device);
  n.fc_w = parameter({4, 8}, 0.3, g, device);
  n.fc_b = parameter({4}, 0.1, g, device);
  n.running_mean = zeros({6}, DType::Float64, device);
  n.running_var = ones({6}, DType::Float64, device);
  for (const Tensor& p : n.params()) n.momentum.push_back(zeros_like(p));
  return n;
}

double conv_step(ConvNet& n, const Tensor& x, const Tensor& labels, int step) {
  // The dropout mask comes from a generator seeded per step: the same mask on both devices.
  Generator dropout_generator(1000 + step);
  Tensor h = conv2d(x, n.c1_w, n.c1_b, {.padding = 1});  // [8, 6, 8, 8]
  h = relu(batch_norm(h, n.bn_w, n.bn_b, n.running_mean, n.running_var, true));
  h = max_pool2d(h, {.kernel = 2});                                 // [8, 6, 4, 4]
  h = elu(conv2d(h, n.c2_w, n.c2_b, {.stride = 2, .padding = 1}));  // [8, 8, 2, 2]
  h = upsample_bilinear2d(upsample_nearest2d(h, 2), {6, 6});        // [8, 8, 6, 6]
  h = avg_pool2d(h, {.kernel = 3, .stride = 2, .padding = 1});      // [8, 8, 3, 3]
  h = flatten(adaptive_avg_pool2d(h, 1), 1);                        // [8, 8]
  h = dropout(h, 0.25, true, &dropout_generator);
  const Tensor loss = cross_entropy(linear(h, n.fc_w, n.fc_b), labels);
  loss.backward();
  NoGradGuard no_grad;
  std::vector<Tensor> params = n.params();
  std::vector<Tensor> grads;
  for (const Tensor& p : params) grads.push_back(contiguous(p.grad()));
  clip_grad_norm_(grads, 1.0);
  for (size_t i = 0; i < params.size(); ++i) {
    sgd_step_(params[i], grads[i], n.momentum[i], SgdParams{.lr = 0.1, .momentum = 0.9}, step == 1);
    params[i].zero_grad();
  }
  return loss.item<double>();
}

std::vector<double> train_conv_net(Device device, int steps) {
  Generator data(4);
  const Tensor x = to_device(randn({8, 3, 8, 8}, DType::Float64, Device::cpu(), &data), device);
  const Tensor labels =
      to_device(Tensor::from_vector<int64_t>({0, 1, 2, 3, 3, 2, 1, 0}, {8}), device);
  ConvNet n = make_conv_net(device);
  std::vector<double> losses;
  for (int s = 1; s <= steps; ++s) losses.push_back(conv_step(n, x, labels, s));
  return losses;
}

void expect_same_curve(const std::vector<double>& cpu, const std::vector<double>& gpu) {
  ASSERT_EQ(cpu.size(), gpu.size());
  for (size_t s = 0; s < cpu.size(); ++s)
    EXPECT_LE(std::abs(cpu[s] - gpu[s]), 1e-8 * std::max(1.0, std::abs(cpu[s])))
        << "step " << s + 1 << ": cpu loss " << cpu[s] << ", cuda loss " << gpu[s];
  // The runs did train: the loss went down.
  EXPECT_LT(cpu.back(), cpu.front());
}

TEST(CudaTraining, MlpSameLossCurveAsCpu) {
  KITE_REQUIRE_CUDA();
  expect_same_curve(train_mlp(Device::cpu(), kSteps), train_mlp(Device::cuda(0), kSteps));
}

TEST(CudaTraining, ConvNetSameLossCurveAsCpu) {
  KITE_REQUIRE_CUDA();
  expect_same_curve(train_conv_net(Device::cpu(), kSteps), train_conv_net(Device::cuda(0), kSteps));
}

TEST(CudaTraining, SteadyStateMakesNoCudaMalloc) {
  KITE_REQUIRE_CUDA();
#if defined(KITE_WITH_CUDA)
  const Device device = Device::cuda(0);
  Generator data(4);
  const Tensor x = to_device(randn({8, 3, 8, 8}, DType::Float64, Device::cpu(), &data), device);
  const Tensor labels =
      to_device(Tensor::from_vector<int64_t>({0, 1, 2, 3, 3, 2, 1, 0}, {8}), device);
  ConvNet n = make_conv_net(device);
  for (int s = 1; s <= 3; ++s) conv_step(n, x, labels, s);  // warm-up fills the cache
  const cuda::AllocatorStats before = cuda::allocator_stats(0);
  for (int s = 4; s <= 13; ++s) conv_step(n, x, labels, s);
  const cuda::AllocatorStats after = cuda::allocator_stats(0);
  EXPECT_EQ(after.cuda_malloc_calls, before.cuda_malloc_calls)
      << "steady-state steps called cudaMalloc; " << cuda::format_allocator_stats(0);
  EXPECT_GT(after.cache_hits, before.cache_hits + 100);  // the steps did allocate, from cache
  EXPECT_EQ(after.current_bytes, before.current_bytes);  // and freed what they allocated
#else
  GTEST_SKIP() << "needs the CUDA allocator's counters";
#endif
}

}  // namespace
}  // namespace kite
