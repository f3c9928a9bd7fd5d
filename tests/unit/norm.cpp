// Normalisation: batch norm (training with batch statistics and the running-statistics
// update, evaluation), group norm and layer norm against values worked out by hand (float32
// and float64); batch norm's fused backward against its backward written as ops; strided
// inputs; and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/generator.h"
#include "ops/factory.h"
#include "ops/norm.h"
#include "ops/shape_ops.h"

namespace kite {
namespace {

constexpr DType kDtypes[] = {DType::Float32, DType::Float64};

Tensor make(const std::vector<double>& values, const Shape& shape, DType dtype) {
  return to_dtype(Tensor::from_vector(values, shape), dtype);
}

void expect_values(const Tensor& t, const std::vector<double>& expected, const std::string& what,
                   double tol64 = 1e-12, double tol32 = 2e-6) {
  const std::vector<double> got = to_double_vector(t);
  ASSERT_EQ(got.size(), expected.size()) << what;
  const double tol = t.dtype() == DType::Float64 ? tol64 : tol32;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], tol * std::max(1.0, std::abs(expected[i])))
        << what << " element " << i << " (" << dtype_name(t.dtype()) << ")";
}

double max_abs_difference(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = to_double_vector(a), y = to_double_vector(b);
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

template <class Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected kite::Error mentioning " << fragments[0];
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& f : fragments)
      EXPECT_NE(message.find(f), std::string::npos)
          << "message '" << message << "' lacks '" << f << "'";
  }
}

TEST(BatchNorm, TrainingUsesBatchStatisticsAndUpdatesRunningOnes) {
  for (DType dt : kDtypes) {
    const double eps = 1e-5, invstd = 1.0 / std::sqrt(1.25 + eps);  // mean 2.5, variance 1.25
    const Tensor running_mean = make({0}, {1}, dt), running_var = make({1}, {1}, dt);
    const Tensor out = batch_norm(make({1, 2, 3, 4}, {4, 1}, dt), make({2}, {1}, dt),
                                  make({1}, {1}, dt), running_mean, running_var, true, 0.1, eps);
    std::vector<double> expected;
    for (double x : {1, 2, 3, 4}) expected.push_back((x - 2.5) * invstd * 2 + 1);
    expect_values(out, expected, "output");
    expect_values(running_mean, {0.25}, "running mean");
    expect_values(running_var, {0.9 + 0.1 * (5.0 / 3.0)}, "running variance (unbiased)");
  }
}

TEST(BatchNorm, StatisticsSpanBatchAndSpace) {
  for (DType dt : kDtypes) {
    // Channel 0 holds 1 3 5 7 (mean 4, variance 5); channel 1 holds 10 20 30 40 (25, 125).
    const Tensor x = make({1, 3, 10, 20, 5, 7, 30, 40}, {2, 2, 1, 2}, dt);
    const Tensor out = batch_norm(x, {}, {}, {}, {}, true, 0.1, 0.0);
    const double a = 1 / std::sqrt(5.0), b = 1 / std::sqrt(125.0);
    expect_values(out, {-3 * a, -1 * a, -15 * b, -5 * b, 1 * a, 3 * a, 5 * b, 15 * b}, "output");
  }
}

TEST(BatchNorm, EvaluationUsesRunningStatisticsAndLeavesThem) {
  for (DType dt : kDtypes) {
    const Tensor running_mean = make({1, 2}, {2}, dt), running_var = make({4, 0.25}, {2}, dt);
    const Tensor out =
        batch_norm(make({1, 2, 3, 4}, {2, 2}, dt), make({1, 2}, {2}, dt), make({0, 1}, {2}, dt),
                   running_mean, running_var, false, 0.1, 0.0);
    expect_values(out, {0, 1, 1, 9}, "output");
    expect_values(running_mean, {1, 2}, "running mean untouched");
    expect_values(running_var, {4, 0.25}, "running variance untouched");
  }
}

// Plain backward runs the fused kernels (grad mode is off inside it); autograd::grad with
// create_graph runs the backward written as ops. Both must agree.
void expect_fused_backward_matches_ops(
    const std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>& op,
    const Shape& x_shape, const Shape& param_shape, const std::string& what) {
  Generator gen(21);
  for (DType dt : kDtypes) {
    const Tensor x = randn(x_shape, dt, Device::cpu(), &gen).set_requires_grad(true);
    const Tensor w = randn(param_shape, dt, Device::cpu(), &gen).set_requires_grad(true);
    const Tensor b = randn(param_shape, dt, Device::cpu(), &gen).set_requires_grad(true);
    const Tensor g = randn(x_shape, dt, Device::cpu(), &gen);
    op(x, w, b).backward(g);
    const std::vector<Tensor> ops = autograd::grad({op(x, w, b)}, {x, w, b}, {g}, true);
    const double tol = dt == DType::Float64 ? 1e-12 : 1e-5;
    EXPECT_LT(max_abs_difference(x.grad(), ops[0]), tol) << what << " dx " << dtype_name(dt);
    EXPECT_LT(max_abs_difference(w.grad(), ops[1]), tol) << what << " dw " << dtype_name(dt);
    EXPECT_LT(max_abs_difference(b.grad(), ops[2]), tol) << what << " db " << dtype_name(dt);
  }
}

TEST(BatchNorm, FusedBackwardMatchesTheBackwardWrittenAsOps) {
  expect_fused_backward_matches_ops(
      [](const Tensor& x, const Tensor& w, const Tensor& b) {
        return batch_norm(x, w, b, {}, {}, true);
      },
      {8, 3, 4, 5}, {3}, "batch_norm");
}

TEST(GroupNorm, FusedBackwardMatchesTheBackwardWrittenAsOps) {
  expect_fused_backward_matches_ops(
      [](const Tensor& x, const Tensor& w, const Tensor& b) { return group_norm(x, 3, w, b); },
      {4, 6, 3, 5}, {6}, "group_norm");
}

TEST(LayerNorm, FusedBackwardMatchesTheBackwardWrittenAsOps) {
  expect_fused_backward_matches_ops(
      [](const Tensor& x, const Tensor& w, const Tensor& b) {
        return layer_norm(x, {3, 5}, w, b);
      },
      {4, 6, 3, 5}, {3, 5}, "layer_norm");
}

TEST(BatchNorm, RunningStatisticsCarryNoGradient) {
  const Tensor x = make({1, 2, 3, 4}, {2, 2}, DType::Float64).set_requires_grad(true);
  const Tensor running_mean = zeros({2}, DType::Float64), running_var = ones({2}, DType::Float64);
  batch_norm(x, {}, {}, running_mean, running_var, true);
  EXPECT_FALSE(running_mean.requires_grad());
  EXPECT_FALSE(running_var.requires_grad());
}

TEST(GroupNorm, NormalisesEachGroupOfChannels) {
  for (DType dt : kDtypes) {
    const Tensor x = make({1, 2, 3, 4}, {1, 4, 1, 1}, dt);
    expect_values(group_norm(x, 2, {}, {}, 0.0), {-1, 1, -1, 1}, "no affine");
    expect_values(group_norm(x, 2, make({1, 2, 3, 4}, {4}, dt), make({0, 0, 0, 1}, {4}, dt), 0.0),
                  {-1, 2, -3, 5}, "affine");
  }
}

// An input with no spatial elements: the parameters' gradients are sums over nothing, zero,
// not whatever memory the fused backward's outputs were given (filled with NaN first here, so
// that stale contents would show).
TEST(GroupNorm, EmptyInputGivesZeroParameterGradients) {
  for (int round = 0; round < 3; ++round) {
    Tensor stale = full({64}, std::nan(""), DType::Float64);
    stale = Tensor();
    const Tensor x = zeros({2, 4, 0, 3}, DType::Float64).set_requires_grad(true);
    const Tensor w = full({4}, 1.5, DType::Float64).set_requires_grad(true);
    const Tensor b = full({4}, 0.5, DType::Float64).set_requires_grad(true);
    const Tensor y = group_norm(x, 2, w, b);
    ASSERT_EQ(y.numel(), 0);
    y.backward(zeros(y.shape(), DType::Float64));
    ASSERT_TRUE(w.grad().defined() && b.grad().defined());
    EXPECT_EQ(to_double_vector(w.grad()), std::vector<double>(4, 0.0));
    EXPECT_EQ(to_double_vector(b.grad()), std::vector<double>(4, 0.0));
  }
}

TEST(LayerNorm, NormalisesEachRow) {
  for (DType dt : kDtypes) {
    const double s = std::sqrt(1.5);  // (x - mean) / std for 1 2 3 and for 2 4 6
    const Tensor x = make({1, 2, 3, 2, 4, 6}, {2, 3}, dt);
    expect_values(layer_norm(x, {3}, make({1, 1, 2}, {3}, dt), make({0, 1, 0}, {3}, dt), 0.0),
                  {-s, 1, 2 * s, -s, 1, 2 * s}, "rows");
    expect_values(layer_norm(x, {2, 3}, {}, {}, 0.0),
                  to_double_vector(batch_norm(reshape(x, {6, 1}), {}, {}, {}, {}, true, 0.1, 0.0)),
                  "whole tensor = batch norm of one channel");
  }
}

TEST(Norm, StridedInputsGiveTheSameResult) {
  Generator gen(5);
  const Tensor x = permute(randn({2, 4, 3, 5}, DType::Float64, Device::cpu(), &gen), {0, 2, 1, 3});
  ASSERT_FALSE(x.is_contiguous());
  const Tensor xc = contiguous(x);
  EXPECT_LT(
      max_abs_difference(batch_norm(x, {}, {}, {}, {}, true), batch_norm(xc, {}, {}, {}, {}, true)),
      1e-15);
  EXPECT_LT(max_abs_difference(group_norm(x, 3), group_norm(xc, 3)), 1e-15);
  EXPECT_LT(max_abs_difference(layer_norm(x, {4, 5}), layer_norm(xc, {4, 5})), 1e-15);
}

TEST(Norm, Errors) {
  expect_error(
      [] {
        batch_norm(zeros({1, 3}), {}, {}, {}, {}, true);
      },
      {"batch_norm", "more than 1 value per channel", "[1, 3]"});
  expect_error(
      [] {
        batch_norm(zeros({4, 3}), {}, {}, {}, {}, false);
      },
      {"batch_norm", "running_mean and running_var"});
  expect_error(
      [] {
        batch_norm(zeros({4, 3}), zeros({4}), {}, {}, {}, true);
      },
      {"batch_norm", "weight", "[3]"});
  expect_error([] { batch_norm(zeros({4}), {}, {}, {}, {}, true); },
               {"batch_norm", "at least 2 axes"});
  expect_error(
      [] {
        batch_norm(zeros({4, 3}), zeros({3}, DType::Float64), {}, {}, {}, true);
      },
      {"batch_norm", "weight", "float64"});
  expect_error([] { group_norm(zeros({2, 4, 3}), 3); }, {"group_norm", "groups = 3", "4 channels"});
  expect_error(
      [] {
        layer_norm(zeros({2, 4}), {3});
      },
      {"layer_norm", "normalized_shape [3]", "[2, 4]"});
  expect_error(
      [] {
        layer_norm(zeros({2, 4}), {4}, zeros({2, 2}));
      },
      {"layer_norm", "weight", "[4]"});
}

}  // namespace
}  // namespace kite
