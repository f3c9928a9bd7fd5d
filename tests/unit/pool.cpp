// Pooling: max, average and adaptive average pooling against values worked out by hand
// (float32 and float64), ceil_mode and count_include_pad, NaN propagation, the backward ops
// (scatter with repeated indices, adjoint identities), strided inputs, and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/generator.h"
#include "ops/factory.h"
#include "ops/pool.h"
#include "ops/shape_ops.h"

namespace kite {
namespace {

constexpr DType kDtypes[] = {DType::Float32, DType::Float64};

Tensor make(const std::vector<double>& values, const Shape& shape, DType dtype) {
  return to_dtype(Tensor::from_vector(values, shape), dtype);
}

std::vector<double> iota(int64_t n) {
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = double(i + 1);
  return v;
}

void expect_values(const Tensor& t, const std::vector<double>& expected, const std::string& what) {
  const std::vector<double> got = to_double_vector(t);
  ASSERT_EQ(got.size(), expected.size()) << what;
  const double tol = t.dtype() == DType::Float64 ? 1e-12 : 1e-6;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], tol * std::max(1.0, std::abs(expected[i])))
        << what << " element " << i << " (" << dtype_name(t.dtype()) << ")";
}

double inner(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = to_double_vector(a), y = to_double_vector(b);
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
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

TEST(MaxPool2d, TwoByTwoWithIndices) {
  for (DType dt : kDtypes) {
    const MaxPool2dResult r =
        max_pool2d_with_indices(make(iota(16), {1, 1, 4, 4}, dt), {.kernel = 2});
    expect_values(r.values, {6, 8, 14, 16}, "values");
    EXPECT_EQ(to_int64_vector(r.indices), (std::vector<int64_t>{5, 7, 13, 15}));
    EXPECT_EQ(r.indices.dtype(), DType::Int64);
  }
}

TEST(MaxPool2d, CeilModeKeepsThePartialLastWindow) {
  for (DType dt : kDtypes) {
    const Tensor x = make(iota(9), {1, 1, 3, 3}, dt);
    EXPECT_EQ(max_pool2d(x, {.kernel = 2}).shape(), (Shape{1, 1, 1, 1}));
    const MaxPool2dResult r = max_pool2d_with_indices(x, {.kernel = 2, .ceil_mode = true});
    expect_values(r.values, {5, 6, 8, 9}, "ceil_mode");
    EXPECT_EQ(to_int64_vector(r.indices), (std::vector<int64_t>{4, 5, 7, 8}));
  }
}

TEST(MaxPool2d, PaddingNeverWins) {
  for (DType dt : kDtypes) {
    // All-negative input: padding must not contribute a 0.
    std::vector<double> v = iota(9);
    for (double& x : v) x = -x;
    const Tensor out =
        max_pool2d(make(v, {1, 1, 3, 3}, dt), {.kernel = 3, .stride = 1, .padding = 1});
    expect_values(out, {-1, -1, -2, -1, -1, -2, -4, -4, -5}, "negative input with padding");
  }
}

TEST(MaxPool2d, NanPropagates) {
  std::vector<double> v = iota(16);
  v[5] = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> out =
      to_double_vector(max_pool2d(make(v, {1, 1, 4, 4}, DType::Float32), {.kernel = 2}));
  EXPECT_TRUE(std::isnan(out[0]));
  EXPECT_EQ(out[1], 8.0);
}

TEST(MaxPool2d, BackwardAddsAtRepeatedIndices) {
  for (DType dt : kDtypes) {
    // The centre is the maximum of all four overlapping 2x2 windows.
    const Tensor x = make({0, 1, 0, 1, 9, 1, 0, 1, 0}, {1, 1, 3, 3}, dt).set_requires_grad(true);
    const Tensor y = max_pool2d(x, {.kernel = 2, .stride = 1});
    y.backward(make({1, 2, 3, 4}, {1, 1, 2, 2}, dt));
    expect_values(x.grad(), {0, 0, 0, 0, 10, 0, 0, 0, 0}, "gradient");
  }
}

TEST(MaxPool2d, BackwardOpIsDifferentiableInItsGradient) {
  const MaxPool2dResult r =
      max_pool2d_with_indices(make(iota(16), {1, 1, 4, 4}, DType::Float64), {.kernel = 2});
  const Tensor g = make({1, 2, 3, 4}, {1, 1, 2, 2}, DType::Float64).set_requires_grad(true);
  const Tensor dx = max_pool2d_backward(g, r.indices, {1, 1, 4, 4});
  expect_values(dx, {0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4}, "scatter");
  // d/dg <dx, v> = v gathered at the indices.
  const std::vector<Tensor> dg =
      autograd::grad({dx}, {g}, {make(iota(16), {1, 1, 4, 4}, DType::Float64)});
  expect_values(dg[0], {6, 8, 14, 16}, "gather");
}

TEST(AvgPool2d, TwoByTwo) {
  for (DType dt : kDtypes)
    expect_values(avg_pool2d(make(iota(16), {1, 1, 4, 4}, dt), {.kernel = 2}),
                  {3.5, 5.5, 11.5, 13.5}, "2x2");
}

TEST(AvgPool2d, CountIncludePadDecidesTheDivisor) {
  for (DType dt : kDtypes) {
    const Tensor ones_in = make(std::vector<double>(9, 1.0), {1, 1, 3, 3}, dt);
    const double a = 4.0 / 9, b = 6.0 / 9;
    expect_values(avg_pool2d(ones_in, {.kernel = 3, .stride = 1, .padding = 1}),
                  {a, b, a, b, 1, b, a, b, a}, "count_include_pad = true");
    expect_values(
        avg_pool2d(ones_in, {.kernel = 3, .stride = 1, .padding = 1, .count_include_pad = false}),
        std::vector<double>(9, 1.0), "count_include_pad = false");
    expect_values(avg_pool2d(make(iota(9), {1, 1, 3, 3}, dt),
                             {.kernel = 3, .stride = 1, .padding = 1, .divisor_override = 1}),
                  {12, 21, 16, 27, 45, 33, 24, 39, 28}, "divisor_override = 1 sums");
  }
}

TEST(AvgPool2d, CeilModeOverhangIsNotCountedAsPadding) {
  for (DType dt : kDtypes) {
    // 3x3 input, kernel 2, stride 2, ceil_mode: the last window has one row/column of input;
    // the overhang beyond the input is not padding, so it is never counted.
    const Tensor out =
        avg_pool2d(make(iota(9), {1, 1, 3, 3}, dt), {.kernel = 2, .ceil_mode = true});
    expect_values(out, {3, 4.5, 7.5, 9}, "ceil_mode");
  }
}

TEST(AvgPool2d, BackwardIsTheAdjoint) {
  Generator gen(2);
  const AvgPool2dOptions o{
      .kernel = 3, .stride = 2, .padding = 1, .ceil_mode = true, .count_include_pad = false};
  const Tensor x = randn({2, 3, 7, 6}, DType::Float64, Device::cpu(), &gen);
  const Tensor y = avg_pool2d(x, o);
  const Tensor g = randn(y.shape(), DType::Float64, Device::cpu(), &gen);
  EXPECT_NEAR(inner(y, g), inner(x, avg_pool2d_backward(g, x.shape(), o)), 1e-12);
}

TEST(AdaptiveAvgPool2d, OverlappingWindows) {
  for (DType dt : kDtypes) {
    // 2x3 -> 1x2: columns [0, 2) and [1, 3).
    expect_values(adaptive_avg_pool2d(make(iota(6), {1, 1, 2, 3}, dt), {1, 2}), {3, 4},
                  "2x3 -> 1x2");
    expect_values(adaptive_avg_pool2d(make(iota(6), {1, 1, 2, 3}, dt), 1), {3.5}, "global");
  }
}

TEST(AdaptiveAvgPool2d, BackwardIsTheAdjoint) {
  Generator gen(4);
  const Tensor x = randn({2, 2, 7, 5}, DType::Float64, Device::cpu(), &gen);
  const Tensor y = adaptive_avg_pool2d(x, {3, 4});
  const Tensor g = randn(y.shape(), DType::Float64, Device::cpu(), &gen);
  EXPECT_NEAR(inner(y, g), inner(x, adaptive_avg_pool2d_backward(g, x.shape())), 1e-12);
}

TEST(Pool2d, StridedInputsGiveTheSameResult) {
  Generator gen(6);
  const Tensor x = permute(randn({2, 5, 3, 6}, DType::Float64, Device::cpu(), &gen), {0, 2, 1, 3});
  ASSERT_FALSE(x.is_contiguous());
  const Tensor xc = contiguous(x);
  EXPECT_EQ(to_double_vector(max_pool2d(x, {.kernel = 2})),
            to_double_vector(max_pool2d(xc, {.kernel = 2})));
  EXPECT_EQ(to_double_vector(avg_pool2d(x, {.kernel = 3, .stride = 1, .padding = 1})),
            to_double_vector(avg_pool2d(xc, {.kernel = 3, .stride = 1, .padding = 1})));
  EXPECT_EQ(to_double_vector(adaptive_avg_pool2d(x, {2, 4})),
            to_double_vector(adaptive_avg_pool2d(xc, {2, 4})));
}

TEST(Pool2d, Errors) {
  const Tensor x = zeros({1, 2, 4, 4});
  expect_error([&] { max_pool2d(x, {.kernel = 2, .padding = 2}); },
               {"max_pool2d", "padding 2x2", "at most half"});
  expect_error([&] { avg_pool2d(x, {.kernel = 5}); },
               {"avg_pool2d", "kernel 5x5", "larger than the padded input 4x4"});
  expect_error(
      [&] {
        max_pool2d(zeros({2, 4, 4}), {.kernel = 2});
      },
      {"max_pool2d", "4-D input", "[2, 4, 4]"});
  expect_error([&] { max_pool2d(x, {.kernel = 0}); },
               {"max_pool2d", "kernel size must be positive"});
  expect_error([&] { avg_pool2d(x, {.kernel = 2, .stride = -1}); },
               {"avg_pool2d", "stride must be positive"});
  expect_error(
      [&] {
        adaptive_avg_pool2d(x, {0, 2});
      },
      {"adaptive_avg_pool2d", "output size must be positive"});
  expect_error(
      [&] {
        avg_pool2d_backward(zeros({1, 2, 3, 3}), {1, 2, 4, 4}, {.kernel = 2});
      },
      {"avg_pool2d_backward", "grad_output", "[1, 2, 2, 2]"});
  expect_error(
      [&] {
        max_pool2d_backward(zeros({1, 2, 2, 2}), zeros({1, 2, 2, 2}), {1, 2, 4, 4});
      },
      {"max_pool2d_backward", "indices", "int64"});
  expect_error(
      [&] {
        max_pool2d(zeros({1, 2, 4, 4}, DType::Int64), {.kernel = 2});
      },
      {"max_pool2d", "floating", "int64"});
}

}  // namespace
}  // namespace kite
