// Activations: values against hand-computed ones in float32 and float64, stability at
// extreme inputs (no overflow, no NaN, no lost digits), and derivative values at chosen
// points, including the second derivative of elu through its saved output.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autograd.h"
#include "ops/activations.h"
#include "ops/elementwise.h"
#include "ops/factory.h"

namespace kite {
namespace {

template <class T>
Tensor make(const std::vector<double>& values, const Shape& shape) {
  return Tensor::from_vector(std::vector<T>(values.begin(), values.end()), shape);
}

template <class T>
constexpr double tolerance() {
  return std::is_same_v<T, float> ? 2e-6 : 1e-14;
}

void expect_values(const Tensor& t, const std::vector<double>& expected, double rel_tol) {
  std::vector<double> got = to_double_vector(t);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_FALSE(std::isnan(got[i])) << "element " << i;
    EXPECT_NEAR(got[i], expected[i], rel_tol * std::max(std::fabs(expected[i]), 1e-300))
        << "element " << i;
  }
}

double ref_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

template <class T>
class ActivationTyped : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ActivationTyped, FloatTypes);

TYPED_TEST(ActivationTyped, Values) {
  using T = TypeParam;
  const double tol = tolerance<T>();
  Tensor x = make<T>({-2.0, -0.5, 0.5, 3.0}, {2, 2});
  expect_values(relu(x), {0.0, 0.0, 0.5, 3.0}, 0);
  expect_values(leaky_relu(x), {-0.02, -0.005, 0.5, 3.0}, tol);
  expect_values(leaky_relu(x, 0.2), {-0.4, -0.1, 0.5, 3.0}, tol);
  expect_values(elu(x), {std::expm1(-2.0), std::expm1(-0.5), 0.5, 3.0}, tol);
  expect_values(elu(x, 0.5), {0.5 * std::expm1(-2.0), 0.5 * std::expm1(-0.5), 0.5, 3.0}, tol);
  expect_values(softplus(x),
                {std::log1p(std::exp(-2.0)), std::log1p(std::exp(-0.5)), std::log1p(std::exp(0.5)),
                 std::log1p(std::exp(3.0))},
                tol);
  expect_values(sigmoid(x),
                {ref_sigmoid(-2.0), ref_sigmoid(-0.5), ref_sigmoid(0.5), ref_sigmoid(3.0)}, tol);
  expect_values(tanh(x), {std::tanh(-2.0), std::tanh(-0.5), std::tanh(0.5), std::tanh(3.0)}, tol);
  expect_values(silu(x),
                {-2.0 * ref_sigmoid(-2.0), -0.5 * ref_sigmoid(-0.5), 0.5 * ref_sigmoid(0.5),
                 3.0 * ref_sigmoid(3.0)},
                tol);
  // sigmoid(0) = 1/2 and softplus(0) = ln 2 exactly (to rounding).
  Tensor zero = make<T>({0.0}, {});
  EXPECT_EQ(sigmoid(zero).item<double>(), 0.5);
  EXPECT_NEAR(softplus(zero).item<double>(), std::log(2.0), tol);
  EXPECT_EQ(relu(zero).item<double>(), 0.0);
}

TYPED_TEST(ActivationTyped, StableAtExtremes) {
  using T = TypeParam;
  Tensor x = make<T>({-1000.0, -100.0, -30.0, 30.0, 100.0, 1000.0}, {6});
  // e^-100 is subnormal in float32: allow a few of its units in the last place there.
  const double subnormal_slack = std::is_same_v<T, float> ? 5e-45 : 0.0;
  std::vector<double> sp = to_double_vector(softplus(x));
  EXPECT_EQ(sp[0], 0.0);
  // For very negative x, softplus(x) = e^x to full relative precision.
  EXPECT_NEAR(sp[1], std::exp(-100.0), tolerance<T>() * std::exp(-100.0) + subnormal_slack);
  EXPECT_NEAR(sp[2], std::log1p(std::exp(-30.0)), tolerance<T>() * std::exp(-30.0) * 2);
  EXPECT_NEAR(sp[3], 30.0 + std::exp(-30.0), tolerance<T>() * 30.0);
  EXPECT_EQ(sp[4], 100.0);
  EXPECT_EQ(sp[5], 1000.0);
  std::vector<double> s = to_double_vector(sigmoid(x));
  EXPECT_EQ(s[0], 0.0);
  EXPECT_NEAR(s[1], std::exp(-100.0), tolerance<T>() * std::exp(-100.0) + subnormal_slack);
  EXPECT_EQ(s[4], 1.0);
  EXPECT_EQ(s[5], 1.0);
  std::vector<double> t = to_double_vector(tanh(x));
  EXPECT_EQ(t[0], -1.0);
  EXPECT_EQ(t[5], 1.0);
  std::vector<double> e = to_double_vector(elu(x));
  EXPECT_EQ(e[0], -1.0);
  EXPECT_EQ(e[5], 1000.0);
  // elu near 0 from below keeps its digits (expm1, not exp - 1).
  const Tensor tiny = make<T>({-1e-9}, {});
  EXPECT_NEAR(elu(tiny).item<double>(), std::expm1(-1e-9), 1e-9 * tolerance<T>());
  for (const Tensor& out : {softplus(x), sigmoid(x), tanh(x), elu(x), silu(x)})
    for (double v : to_double_vector(out)) EXPECT_FALSE(std::isnan(v));
}

TYPED_TEST(ActivationTyped, LipSwish) {
  using T = TypeParam;
  const double tol = tolerance<T>();
  Tensor x = make<T>({-1.0, 0.5, 2.0}, {3});
  Tensor beta = make<T>({2.0}, {});
  expect_values(
      lipswish(x, beta),
      {-1.0 * ref_sigmoid(-2.0) / 1.1, 0.5 * ref_sigmoid(1.0) / 1.1, 2.0 * ref_sigmoid(4.0) / 1.1},
      tol);
  // A per-channel beta broadcasts.
  Tensor betas = make<T>({1.0, 0.0, 3.0}, {3});
  expect_values(lipswish(x, betas),
                {-1.0 * ref_sigmoid(-1.0) / 1.1, 0.25 / 1.1, 2.0 * ref_sigmoid(6.0) / 1.1}, tol);
}

Tensor leaf(const std::vector<double>& values) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())}).set_requires_grad(true);
}

std::vector<double> grad_of(Tensor (*f)(const Tensor&), const std::vector<double>& at) {
  Tensor x = leaf(at);
  f(x).backward(ones_like(x));
  return to_double_vector(x.grad());
}

TEST(ActivationGrad, DerivativeValues) {
  EXPECT_EQ(grad_of(relu, {-1.0, 0.0, 2.0}), (std::vector<double>{0.0, 0.0, 1.0}));
  EXPECT_EQ(grad_of([](const Tensor& x) { return leaky_relu(x, 0.1); }, {-1.0, 0.0, 2.0}),
            (std::vector<double>{0.1, 0.1, 1.0}));
  std::vector<double> e = grad_of([](const Tensor& x) { return elu(x); }, {-1.0, 2.0});
  EXPECT_NEAR(e[0], std::exp(-1.0), 1e-15);
  EXPECT_EQ(e[1], 1.0);
  std::vector<double> sp = grad_of(softplus, {-3.0, 0.0, 4.0});
  for (int i = 0; i < 3; ++i)
    EXPECT_NEAR(sp[i], ref_sigmoid(std::vector<double>{-3, 0, 4}[i]), 1e-15);
  std::vector<double> s = grad_of(sigmoid, {0.0, 2.0});
  EXPECT_NEAR(s[0], 0.25, 1e-15);
  EXPECT_NEAR(s[1], ref_sigmoid(2.0) * (1 - ref_sigmoid(2.0)), 1e-15);
  std::vector<double> t = grad_of(tanh, {0.0, 1.0});
  EXPECT_NEAR(t[0], 1.0, 1e-15);
  EXPECT_NEAR(t[1], 1.0 - std::tanh(1.0) * std::tanh(1.0), 1e-15);
  std::vector<double> si = grad_of(silu, {1.5});
  EXPECT_NEAR(si[0], ref_sigmoid(1.5) * (1 + 1.5 * (1 - ref_sigmoid(1.5))), 1e-15);
}

TEST(ActivationGrad, EluSecondDerivativeThroughSavedOutput) {
  // elu''(x) = alpha e^x for x < 0 and 0 for x > 0.
  Tensor x = leaf({-0.5, 1.0});
  Tensor y = elu(x, 2.0);
  Tensor dy = autograd::grad({y}, {x}, {ones_like(y)}, true)[0];
  Tensor d2y = autograd::grad({dy}, {x}, {ones_like(dy)})[0];
  std::vector<double> d2 = to_double_vector(d2y);
  EXPECT_NEAR(d2[0], 2.0 * std::exp(-0.5), 1e-15);
  EXPECT_EQ(d2[1], 0.0);
}

TEST(ActivationGrad, LipSwishBetaGetsAGradient) {
  // d/dbeta [x sigmoid(beta x) / 1.1] = x^2 s (1 - s) / 1.1, summed over the broadcast.
  Tensor x = leaf({1.0, -2.0});
  Tensor beta = Tensor::from_vector<double>({0.5}, {}).set_requires_grad(true);
  lipswish(x, beta).backward(ones_like(x));
  double expected = 0.0;
  for (double v : {1.0, -2.0}) {
    const double s = ref_sigmoid(0.5 * v);
    expected += v * v * s * (1 - s) / 1.1;
  }
  EXPECT_NEAR(beta.grad().item<double>(), expected, 1e-15);
  EXPECT_EQ(beta.grad().dim(), 0);
}

TEST(ActivationErrors, MessagesNameTheOp) {
  Tensor labels = Tensor::from_vector<int64_t>({1}, {1});
  try {
    sigmoid(labels);
    FAIL() << "sigmoid accepted an int64 tensor";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sigmoid: expected a floating tensor"), std::string::npos)
        << e.what();
  }
  try {
    lipswish(zeros({2}), Tensor());
    FAIL() << "lipswish accepted an undefined beta";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lipswish: beta"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kite
