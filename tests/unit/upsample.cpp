// Resampling: nearest upsampling and bilinear resizing against values worked out by hand
// (float32 and float64), both align_corners conventions, identity resizes, the backward as
// block sums and as the adjoint, the shared coordinate math, strided inputs and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/generator.h"
#include "ops/factory.h"
#include "ops/math/upsample.h"
#include "ops/shape_ops.h"
#include "ops/upsample.h"

namespace kite {
namespace {

constexpr DType kDtypes[] = {DType::Float32, DType::Float64};

Tensor make(const std::vector<double>& values, const Shape& shape, DType dtype) {
  return to_dtype(Tensor::from_vector(values, shape), dtype);
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

TEST(UpsampleNearest2d, RepeatsEachPixelInABlock) {
  for (DType dt : kDtypes) {
    const Tensor x = make({1, 2, 3, 4}, {1, 1, 2, 2}, dt);
    expect_values(upsample_nearest2d(x, 2), {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, "x2");
    const Tensor wide = upsample_nearest2d(x, {1, 3});
    EXPECT_EQ(wide.shape(), (Shape{1, 1, 2, 6}));
    expect_values(wide, {1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4}, "1x3");
  }
}

TEST(UpsampleNearest2d, GradientSumsEachBlock) {
  for (DType dt : kDtypes) {
    const Tensor x = make({1, 2, 3, 4}, {1, 1, 2, 2}, dt).set_requires_grad(true);
    std::vector<double> g(16);
    for (int i = 0; i < 16; ++i) g[i] = double(i);
    upsample_nearest2d(x, 2).backward(make(g, {1, 1, 4, 4}, dt));
    // Block (0,0) holds 0 1 4 5, (0,1) 2 3 6 7, (1,0) 8 9 12 13, (1,1) 10 11 14 15.
    expect_values(x.grad(), {10, 18, 42, 50}, "block sums");
  }
}

TEST(UpsampleBilinear2d, AlignCornersTrue) {
  for (DType dt : kDtypes)
    expect_values(upsample_bilinear2d(make({1, 2, 3, 4}, {1, 1, 2, 2}, dt), {3, 3}, true),
                  {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4}, "2x2 -> 3x3");
}

TEST(UpsampleBilinear2d, HalfPixelCentres) {
  for (DType dt : kDtypes) {
    // Source coordinates of outputs 0..3 for 2 -> 4: clamp(-0.25) = 0, 0.25, 0.75, 1.25 -> the
    // edge pixel. Along each axis the weights are c = 0, 0.25, 0.75, 1; x = 1 + col + 2 row.
    const double c[4] = {0, 0.25, 0.75, 1};
    std::vector<double> expected;
    for (double r : c)
      for (double q : c) expected.push_back(1 + q + 2 * r);
    expect_values(upsample_bilinear2d(make({1, 2, 3, 4}, {1, 1, 2, 2}, dt), {4, 4}, false),
                  expected, "2x2 -> 4x4");
  }
}

TEST(UpsampleBilinear2d, SameSizeIsTheIdentity) {
  Generator gen(1);
  const Tensor x = randn({2, 3, 5, 4}, DType::Float64, Device::cpu(), &gen);
  for (bool align : {false, true})
    EXPECT_EQ(to_double_vector(upsample_bilinear2d(x, {5, 4}, align)), to_double_vector(x))
        << align;
}

TEST(UpsampleBilinear2d, BackwardIsTheAdjoint) {
  Generator gen(2);
  for (bool align : {false, true}) {
    const Tensor x = randn({2, 2, 5, 7}, DType::Float64, Device::cpu(), &gen);
    const Tensor y = upsample_bilinear2d(x, {9, 4}, align);
    const Tensor g = randn(y.shape(), DType::Float64, Device::cpu(), &gen);
    EXPECT_NEAR(inner(y, g), inner(x, upsample_bilinear2d_backward(g, x.shape(), align)), 1e-12)
        << align;
  }
}

TEST(UpsampleMath, LinearTapsStayInsideAndSumToOne) {
  for (int64_t in = 1; in <= 9; ++in)
    for (int64_t out = 1; out <= 12; ++out)
      for (bool align : {false, true}) {
        const double scale = math::linear_scale<double>(in, out, align);
        for (int64_t o = 0; o < out; ++o) {
          const math::LinearTaps<double> t = math::linear_taps(o, in, scale, align);
          EXPECT_TRUE(t.i0 >= 0 && t.i0 < in && t.i1 >= t.i0 && t.i1 < in)
              << in << "->" << out << " o " << o;
          EXPECT_NEAR(t.w0 + t.w1, 1.0, 1e-15);
          EXPECT_GE(t.w1, 0.0);
        }
      }
  EXPECT_EQ(math::nearest_source(5, 3, 6), 2);  // scale 2: output 5 copies input 2
}

TEST(Upsample, StridedInputsGiveTheSameResult) {
  Generator gen(3);
  const Tensor x = permute(randn({1, 4, 2, 3}, DType::Float64, Device::cpu(), &gen), {0, 2, 1, 3});
  ASSERT_FALSE(x.is_contiguous());
  EXPECT_EQ(to_double_vector(upsample_nearest2d(x, 2)),
            to_double_vector(upsample_nearest2d(contiguous(x), 2)));
  EXPECT_EQ(to_double_vector(upsample_bilinear2d(x, {7, 5})),
            to_double_vector(upsample_bilinear2d(contiguous(x), {7, 5})));
}

TEST(Upsample, Errors) {
  const Tensor x = zeros({1, 2, 3, 3});
  expect_error([&] { upsample_nearest2d(x, {0, 2}); }, {"upsample_nearest2d", "scale", "0x2"});
  expect_error(
      [&] {
        upsample_bilinear2d(x, {4, 0});
      },
      {"upsample_bilinear2d", "output size must be positive", "4x0"});
  expect_error(
      [&] {
        upsample_bilinear2d(zeros({2, 3, 3}), {4, 4});
      },
      {"upsample_bilinear2d", "4-D input"});
  expect_error(
      [&] {
        upsample_bilinear2d(zeros({1, 1, 0, 3}), {4, 4});
      },
      {"upsample_bilinear2d", "empty plane"});
  expect_error(
      [&] {
        upsample_bilinear2d_backward(zeros({1, 3, 4, 4}), {1, 2, 3, 3});
      },
      {"upsample_bilinear2d_backward", "N and C must agree"});
}

}  // namespace
}  // namespace kite
