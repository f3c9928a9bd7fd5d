// Losses and the softmax family: values against formulas evaluated here by hand (float32
// and float64), every reduction, numerical stability at large logits, the gradient of the
// logit losses at exactly 0, strided inputs, and the errors each loss raises.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/ops.h"

namespace kite {
namespace {

Tensor make(const std::vector<double>& values, const Shape& shape, DType dtype) {
  if (dtype == DType::Float64) return Tensor::from_vector(values, shape);
  return Tensor::from_vector(std::vector<float>(values.begin(), values.end()), shape);
}

Tensor labels(const std::vector<int64_t>& values) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())});
}

double tolerance(DType dtype) { return dtype == DType::Float64 ? 1e-12 : 2e-6; }

void expect_values(const Tensor& t, const std::vector<double>& expected, DType dtype,
                   const std::string& what) {
  ASSERT_EQ(t.dtype(), dtype) << what;
  const std::vector<double> got = to_double_vector(t);
  ASSERT_EQ(got.size(), expected.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], expected[i], tolerance(dtype) * std::max(1.0, std::abs(expected[i])))
        << what << " element " << i << " (" << dtype_name(dtype) << ")";
  }
}

double sum_of(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return s;
}

// log sigmoid(x), evaluated without overflow on either side.
double log_sigmoid(double x) {
  return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x));
}

template <class Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected kite::Error mentioning " << fragments[0];
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "message '" << message << "' lacks '" << fragment << "'";
    }
  }
}

constexpr DType kDtypes[] = {DType::Float32, DType::Float64};

TEST(Loss, MseEveryReduction) {
  for (DType dt : kDtypes) {
    const Tensor p = make({1, 2, 3, -1}, {2, 2}, dt);
    const Tensor t = make({0, 2, 5, 1.5}, {2, 2}, dt);
    const std::vector<double> sq = {1, 0, 4, 6.25};
    expect_values(mse_loss(p, t, Reduction::None), sq, dt, "mse none");
    EXPECT_EQ(mse_loss(p, t, Reduction::None).shape(), (Shape{2, 2}));
    expect_values(mse_loss(p, t, Reduction::Sum), {sum_of(sq)}, dt, "mse sum");
    expect_values(mse_loss(p, t), {sum_of(sq) / 4}, dt, "mse mean");
    EXPECT_EQ(mse_loss(p, t).dim(), 0);
  }
}

TEST(Loss, MseOnTransposedPrediction) {
  const Tensor p = make({1, 2, 3, 4, 5, 6}, {2, 3}, DType::Float64);
  const Tensor pt = transpose(p, 0, 1);  // [3, 2] view: 1 4 / 2 5 / 3 6
  ASSERT_FALSE(pt.is_contiguous());
  const Tensor t = make({0, 0, 0, 0, 0, 1}, {3, 2}, DType::Float64);
  expect_values(mse_loss(pt, t, Reduction::None), {1, 16, 4, 25, 9, 25}, DType::Float64,
                "mse strided");
}

TEST(Loss, MseGradient) {
  Tensor p = make({1, 2, 3}, {3}, DType::Float64).set_requires_grad(true);
  const Tensor t = make({0, 2, 5}, {3}, DType::Float64);
  mse_loss(p, t).backward();
  // d/dp mean((p - t)^2) = 2 (p - t) / n
  expect_values(p.grad(), {2.0 / 3, 0.0, -4.0 / 3}, DType::Float64, "mse grad");
}

TEST(Loss, BceWithLogitsMatchesDefinition) {
  const std::vector<double> x = {0, 2, -3, 40, -40, 0.7};
  const std::vector<double> t = {0.5, 1, 0, 0.25, 1, 0.9};
  std::vector<double> expected;
  for (size_t i = 0; i < x.size(); ++i) {
    expected.push_back(-(t[i] * log_sigmoid(x[i]) + (1 - t[i]) * log_sigmoid(-x[i])));
  }
  for (DType dt : kDtypes) {
    const Tensor logits = make(x, {6}, dt);
    const Tensor target = make(t, {6}, dt);
    expect_values(binary_cross_entropy_with_logits(logits, target, Reduction::None), expected, dt,
                  "bce none");
    expect_values(binary_cross_entropy_with_logits(logits, target, Reduction::Sum),
                  {sum_of(expected)}, dt, "bce sum");
    expect_values(binary_cross_entropy_with_logits(logits, target), {sum_of(expected) / 6}, dt,
                  "bce mean");
  }
}

TEST(Loss, BceWithLogitsGradientAtZeroLogits) {
  // A zero-initialised output layer gives logits of exactly 0; the gradient there must be
  // sigmoid(0) - t, not a one-sided derivative of max(x, 0) or |x|.
  Tensor logits = make({0, 0, 0, 1.5}, {4}, DType::Float64).set_requires_grad(true);
  const Tensor target = make({0, 1, 0.3, 0.2}, {4}, DType::Float64);
  binary_cross_entropy_with_logits(logits, target, Reduction::Sum).backward();
  const double s = 1 / (1 + std::exp(-1.5));
  expect_values(logits.grad(), {0.5, -0.5, 0.2, s - 0.2}, DType::Float64, "bce grad");
}

TEST(Loss, CrossEntropyMatchesDefinition) {
  const std::vector<double> x = {1, 2, 3, 1, 1, 1, -2, 0.5, 4};
  const std::vector<int64_t> y = {2, 0, 1};
  std::vector<double> expected;
  for (int r = 0; r < 3; ++r) {
    double z = 0;
    for (int c = 0; c < 3; ++c) z += std::exp(x[r * 3 + c]);
    expected.push_back(std::log(z) - x[r * 3 + y[r]]);
  }
  for (DType dt : kDtypes) {
    const Tensor logits = make(x, {3, 3}, dt);
    expect_values(cross_entropy(logits, labels(y), Reduction::None), expected, dt, "ce none");
    expect_values(cross_entropy(logits, labels(y), Reduction::Sum), {sum_of(expected)}, dt,
                  "ce sum");
    expect_values(cross_entropy(logits, labels(y)), {sum_of(expected) / 3}, dt, "ce mean");
  }
}

TEST(Loss, CrossEntropyLargeLogitsStayFinite) {
  for (DType dt : kDtypes) {
    const Tensor logits = make({1000, 0, -1000, 1000}, {2, 2}, dt);
    // Row 0, label 1: log(e^1000 + 1) - 0 = 1000. Row 1, label 1: log(e^-1000 + e^1000) - 1000 = 0.
    expect_values(cross_entropy(logits, labels({1, 1}), Reduction::None), {1000, 0}, dt,
                  "ce large");
  }
}

TEST(Loss, CrossEntropyGradientIsSoftmaxMinusOneHot) {
  const std::vector<double> x = {0.5, -1, 2, 0, 0, 3};
  Tensor logits = make(x, {2, 3}, DType::Float64).set_requires_grad(true);
  cross_entropy(logits, labels({0, 2})).backward();
  std::vector<double> expected(6);
  const int64_t y[] = {0, 2};
  for (int r = 0; r < 2; ++r) {
    double z = 0;
    for (int c = 0; c < 3; ++c) z += std::exp(x[r * 3 + c]);
    for (int c = 0; c < 3; ++c) {
      expected[r * 3 + c] = (std::exp(x[r * 3 + c]) / z - (c == y[r] ? 1.0 : 0.0)) / 2;
    }
  }
  expect_values(logits.grad(), expected, DType::Float64, "ce grad");
}

TEST(Loss, SoftmaxAndLogSoftmax) {
  for (DType dt : kDtypes) {
    // The second row is the first shifted by more than exp() of the dtype can take (e^100
    // overflows float32, e^1000 float64): the same probabilities must come out, finite.
    const double shift = dt == DType::Float64 ? 1000 : 100;
    const Tensor x = make({1, 2, 3, 1 + shift, 2 + shift, 3 + shift}, {2, 3}, dt);
    const double z = std::exp(1) + std::exp(2) + std::exp(3);
    const std::vector<double> row = {std::exp(1) / z, std::exp(2) / z, std::exp(3) / z};
    expect_values(softmax(x, 1), {row[0], row[1], row[2], row[0], row[1], row[2]}, dt,
                  "softmax rows");
    expect_values(softmax(x, -1), {row[0], row[1], row[2], row[0], row[1], row[2]}, dt,
                  "softmax axis -1");
    const std::vector<double> log_row = {1 - std::log(z), 2 - std::log(z), 3 - std::log(z)};
    const Tensor log_probs = log_softmax(x, 1);
    expect_values(select(log_probs, 0, 0), log_row, dt, "log_softmax row 0");
    // x - logsumexp(x) at |x| ~ shift cannot be closer than the spacing of floats near the
    // shift (7.6e-6 at 100 in float32): allow two such spacings.
    const std::vector<double> shifted = to_double_vector(select(log_probs, 0, 1));
    const float shift32 = static_cast<float>(shift);
    const double spacing = dt == DType::Float64
                               ? std::nextafter(shift, 2 * shift) - shift
                               : static_cast<double>(std::nextafter(shift32, 2 * shift32)) - shift;
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(shifted[c], log_row[c], 2 * spacing) << "log_softmax row 1 " << dtype_name(dt);
    }
  }
  // Along axis 0 of a [2, 2] tensor: each column is a two-way softmax.
  const Tensor y = make({0, 1, std::log(3.0), 1}, {2, 2}, DType::Float64);
  expect_values(softmax(y, 0), {0.25, 0.5, 0.75, 0.5}, DType::Float64, "softmax columns");
}

TEST(Loss, GaussianNll) {
  const double half_log_two_pi = 0.5 * std::log(2 * std::numbers::pi);
  for (DType dt : kDtypes) {
    const Tensor x = make({1, 2, -1}, {3}, dt);
    const Tensor mean = make({0, 0, 1}, {3}, dt);
    const Tensor log_var = make({0, std::log(4.0), std::log(0.5)}, {3}, dt);
    const std::vector<double> expected = {
        0.5 * 1 + half_log_two_pi,
        0.5 * std::log(4.0) + 0.5 * 4 / 4 + half_log_two_pi,
        0.5 * std::log(0.5) + 0.5 * 4 / 0.5 + half_log_two_pi,
    };
    expect_values(gaussian_nll(x, mean, log_var, Reduction::None), expected, dt, "nll none");
    expect_values(gaussian_nll(x, mean, log_var, Reduction::Sum), {sum_of(expected)}, dt,
                  "nll sum");
    expect_values(gaussian_nll(x, mean, log_var), {sum_of(expected) / 3}, dt, "nll mean");
    // One shared log-variance (the 2-stage VAE's learned gamma), broadcast over x.
    const Tensor shared = make({std::log(4.0)}, {}, dt);
    expect_values(gaussian_nll(x, mean, shared, Reduction::None),
                  {0.5 * std::log(4.0) + 0.5 * 1 / 4 + half_log_two_pi,
                   0.5 * std::log(4.0) + 0.5 * 4 / 4 + half_log_two_pi,
                   0.5 * std::log(4.0) + 0.5 * 4 / 4 + half_log_two_pi},
                  dt, "nll shared log_var");
  }
}

TEST(Loss, KlNormal) {
  for (DType dt : kDtypes) {
    const Tensor mu = make({0, 1, -2}, {3}, dt);
    const Tensor log_var = make({0, std::log(2.0), -1}, {3}, dt);
    const std::vector<double> expected = {0.0, 0.5 * (1 + 2 - 1 - std::log(2.0)),
                                          0.5 * (4 + std::exp(-1.0) - 1 + 1)};
    expect_values(kl_normal(mu, log_var, Reduction::None), expected, dt, "kl none");
    expect_values(kl_normal(mu, log_var), {sum_of(expected)}, dt, "kl default (sum)");
    expect_values(kl_normal(mu, log_var, Reduction::Mean), {sum_of(expected) / 3}, dt, "kl mean");
  }
}

TEST(Loss, ShapeDtypeAndDeviceErrorsNameTheLoss) {
  const Tensor a = make({1, 2, 3}, {3}, DType::Float32);
  const Tensor col = make({1, 2, 3}, {3, 1}, DType::Float32);
  const Tensor a64 = make({1, 2, 3}, {3}, DType::Float64);
  expect_error([&] { mse_loss(a, col); }, {"mse_loss", "[3]", "[3, 1]", "differ"});
  expect_error([&] { mse_loss(a, a64); }, {"mse_loss", "float32", "float64", "same dtype"});
  expect_error([&] { binary_cross_entropy_with_logits(a, col); },
               {"binary_cross_entropy_with_logits", "differ"});
  expect_error([&] { kl_normal(a, col); }, {"kl_normal", "differ"});
  expect_error([&] { gaussian_nll(a, col, a); }, {"gaussian_nll", "differ"});
  expect_error([&] { gaussian_nll(a, a, make({1, 2}, {2}, DType::Float32)); }, {"gaussian_nll"});
  expect_error([&] { gaussian_nll(a, a, col); }, {"gaussian_nll", "log_var", "broadcast"});
  expect_error(
      [&] {
        mse_loss(labels({1, 2, 3}), labels({1, 2, 3}));
      },
      {"mse_loss", "float32 or float64", "int64"});
  expect_error([&] { softmax(a, 1); }, {"softmax"});
  expect_error([&] { log_softmax(make({1}, {}, DType::Float32), 0); },
               {"log_softmax", "at least one axis"});
}

TEST(Loss, CrossEntropyChecksLabels) {
  const Tensor logits = make({1, 2, 3, 4, 5, 6}, {2, 3}, DType::Float32);
  expect_error(
      [&] {
        cross_entropy(logits, labels({0, 3}));
      },
      {"cross_entropy", "label 3", "row 1", "[0, 3)"});
  expect_error(
      [&] {
        cross_entropy(logits, labels({-1, 0}));
      },
      {"cross_entropy", "label -1", "row 0"});
  expect_error(
      [&] {
        cross_entropy(logits, make({0, 1}, {2}, DType::Float32));
      },
      {"cross_entropy", "int64", "float32"});
  expect_error(
      [&] {
        cross_entropy(logits, labels({0, 1, 2}));
      },
      {"cross_entropy", "one label per row", "[3]", "[2, 3]"});
  expect_error(
      [&] {
        cross_entropy(make({1, 2, 3}, {3}, DType::Float32), labels({0}));
      },
      {"cross_entropy", "2-D"});
  expect_error(
      [&] {
        cross_entropy(make({1, 2, 3, 4}, {1, 2, 2}, DType::Float32), labels({0}));
      },
      {"cross_entropy", "2-D"});
}

}  // namespace
}  // namespace kite
