// Reductions (ops/reduce.h): values against hand-computed results and brute-force loops in
// both floating dtypes, every kernel path (trailing rows, leading columns, separated axes,
// split long axes), non-contiguous inputs, accuracy of float32 sums, NaN and tie behaviour,
// gradients of amax / max by hand, and every error message.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>

#include "ops/ops.h"

namespace kite {
namespace {

using Values = std::vector<double>;
constexpr double kInf = std::numeric_limits<double>::infinity();

Tensor tensor(const Values& v, const Shape& shape, DType dtype = DType::Float64) {
  Tensor t = Tensor::from_vector<double>(v, shape);
  return dtype == DType::Float64 ? t : to_dtype(t, dtype);
}

Tensor iota(const Shape& shape, DType dtype = DType::Float64) {
  Values v(numel_of(shape));
  std::iota(v.begin(), v.end(), 0.0);
  return tensor(v, shape, dtype);
}

Values values(const Tensor& t) { return to_double_vector(t); }

template <class F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected a kite::Error containing '" << parts.front() << "'";
  } catch (const Error& e) {
    for (const std::string& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message '" << e.what() << "' lacks '" << part << "'";
  }
}

// Brute-force sum of x (row-major values of `shape`) over the axes in `mask`.
Values brute_sum(const Values& x, const Shape& shape, const std::vector<bool>& mask) {
  Shape out_shape = shape;
  for (size_t d = 0; d < shape.size(); ++d)
    if (mask[d]) out_shape[d] = 1;
  Values out(numel_of(out_shape), 0.0);
  Shape out_strides = contiguous_strides(out_shape);
  for (int64_t i = 0; i < numel_of(shape); ++i) {
    int64_t rest = i, pos = 0;
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      const int64_t coord = rest % shape[d];
      rest /= shape[d];
      if (!mask[d]) pos += coord * out_strides[d];
    }
    out[pos] += x[i];
  }
  return out;
}

class ReduceDtype : public ::testing::TestWithParam<DType> {};

TEST_P(ReduceDtype, SumValues) {
  const DType dt = GetParam();
  Tensor x = iota({2, 3}, dt);
  Tensor all = sum(x);
  EXPECT_EQ(all.dim(), 0);
  EXPECT_EQ(all.dtype(), dt);
  EXPECT_EQ(all.item<double>(), 15.0);
  EXPECT_EQ(values(sum(x, {0})), (Values{3, 5, 7}));
  Tensor rows = sum(x, {-1}, true);
  EXPECT_EQ(rows.shape(), (Shape{2, 1}));
  EXPECT_EQ(values(rows), (Values{3, 12}));
  EXPECT_EQ(values(sum(transpose(x, 0, 1), {1})), (Values{3, 5, 7}));  // strided input
  EXPECT_EQ(sum(x, {0, 1}, true).shape(), (Shape{1, 1}));
  EXPECT_EQ(sum(tensor({2.5}, {}, dt)).item<double>(), 2.5);
}

TEST_P(ReduceDtype, SumOverSeparatedAxesMatchesBruteForce) {
  const DType dt = GetParam();
  const Shape shape{3, 4, 5, 6};
  Values v(numel_of(shape));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>((i * 37) % 11) - 5.0;
  Tensor x = tensor(v, shape, dt);
  for (const std::vector<bool>& mask : std::vector<std::vector<bool>>{{true, false, true, true},
                                                                      {true, false, true, false},
                                                                      {false, true, false, true},
                                                                      {true, true, false, false},
                                                                      {false, false, true, true}}) {
    Axes axes;
    for (int64_t d = 0; d < 4; ++d)
      if (mask[d]) axes.push_back(d);
    EXPECT_EQ(values(sum(x, axes, true)), brute_sum(v, shape, mask)) << shape_str(axes);
    // Same reduction on a non-contiguous view of the same values.
    Tensor strided = permute(contiguous(permute(x, {3, 2, 1, 0})), {3, 2, 1, 0});
    ASSERT_FALSE(strided.is_contiguous());
    EXPECT_EQ(values(sum(strided, axes, true)), brute_sum(v, shape, mask)) << shape_str(axes);
  }
}

TEST_P(ReduceDtype, MeanVarNorm) {
  const DType dt = GetParam();
  Tensor x = tensor({1, 2, 3, 4, 6, 8}, {2, 3}, dt);
  EXPECT_NEAR(mean(x).item<double>(), 4.0, 1e-6);
  Values m = values(mean(x, {1}));
  EXPECT_NEAR(m[0], 2.0, 1e-6);
  EXPECT_NEAR(m[1], 6.0, 1e-6);
  Values v = values(var(x, {1}));  // unbiased: {1, 4}
  EXPECT_NEAR(v[0], 1.0, 1e-6);
  EXPECT_NEAR(v[1], 4.0, 1e-6);
  Values vb = values(var(x, {1}, false, true));  // biased: {2/3, 8/3}
  EXPECT_NEAR(vb[0], 2.0 / 3.0, 1e-6);
  EXPECT_NEAR(vb[1], 8.0 / 3.0, 1e-6);
  EXPECT_EQ(var(x, {1}, false, true).shape(), (Shape{2, 1}));

  Tensor y = tensor({3, -4, 0, 1}, {2, 2}, dt);
  Values n2 = values(norm(y, 2.0, {1}));
  EXPECT_NEAR(n2[0], 5.0, 1e-6);
  EXPECT_NEAR(n2[1], 1.0, 1e-6);
  EXPECT_NEAR(norm(y, 1.0).item<double>(), 8.0, 1e-6);
  EXPECT_NEAR(norm(y, kInf).item<double>(), 4.0, 1e-6);
  EXPECT_NEAR(norm(y, 3.0).item<double>(), std::cbrt(27.0 + 64.0 + 1.0), 1e-5);
}

TEST_P(ReduceDtype, LogSumExpIsStable) {
  const DType dt = GetParam();
  Tensor x = tensor({1000, 1000, -1000, -1000.5, 0, std::log(3.0)}, {3, 2}, dt);
  Values l = values(logsumexp(x, {1}));
  EXPECT_NEAR(l[0], 1000.0 + std::log(2.0), 1e-3);
  EXPECT_NEAR(l[1], -1000.0 + std::log1p(std::exp(-0.5)), 1e-3);
  EXPECT_NEAR(l[2], std::log(4.0), 1e-6);
  EXPECT_EQ(logsumexp(x, {1}, true).shape(), (Shape{3, 1}));
  // Infinite rows: all -inf gives -inf, a +inf gives +inf (no inf - inf NaN).
  Tensor inf = tensor({-kInf, -kInf, kInf, 1.0}, {2, 2}, dt);
  Values li = values(logsumexp(inf, {1}));
  EXPECT_EQ(li[0], -kInf);
  EXPECT_EQ(li[1], kInf);
}

TEST_P(ReduceDtype, AmaxAminMaxMinArgmax) {
  const DType dt = GetParam();
  Tensor x = tensor({1, 5, 5, -2, 7, 0}, {2, 3}, dt);
  EXPECT_EQ(amax(x).item<double>(), 7.0);
  EXPECT_EQ(amin(x).item<double>(), -2.0);
  EXPECT_EQ(values(amax(x, {1})), (Values{5, 7}));
  EXPECT_EQ(values(amin(x, {0}, true)), (Values{-2, 5, 0}));
  ValuesIndices mx = max(x, 1);
  EXPECT_EQ(values(mx.values), (Values{5, 7}));
  EXPECT_EQ(mx.indices.dtype(), DType::Int64);
  EXPECT_EQ(to_int64_vector(mx.indices), (std::vector<int64_t>{1, 1}));  // first of the tie
  ValuesIndices mn = min(transpose(x, 0, 1), 1, true);                   // strided input
  EXPECT_EQ(mn.values.shape(), (Shape{3, 1}));
  EXPECT_EQ(values(mn.values), (Values{-2, 5, 0}));
  EXPECT_EQ(to_int64_vector(mn.indices), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(to_int64_vector(argmax(x, 0)), (std::vector<int64_t>{0, 1, 0}));
  EXPECT_EQ(argmax(x, 0, true).shape(), (Shape{1, 3}));
  ValuesIndices m0 = max(tensor({4}, {}, dt), 0);
  EXPECT_EQ(m0.values.dim(), 0);
  EXPECT_EQ(m0.indices.item<int64_t>(), 0);
}

TEST_P(ReduceDtype, NaNPropagates) {
  const DType dt = GetParam();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = tensor({1, nan, 3, 2, 0, nan}, {2, 3}, dt);
  Values mx = values(amax(x, {1}));
  EXPECT_TRUE(std::isnan(mx[0]));
  EXPECT_TRUE(std::isnan(mx[1]));
  EXPECT_TRUE(std::isnan(values(amin(x, {0}))[1]));
  EXPECT_EQ(values(amin(x, {0}))[0], 1.0);
  EXPECT_EQ(to_int64_vector(argmax(x, 1)), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(to_int64_vector(min(x, 1).indices), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(std::isnan(sum(x).item<double>()));
}

TEST_P(ReduceDtype, SumToReversesBroadcasting) {
  const DType dt = GetParam();
  Tensor x = iota({2, 3, 4}, dt);
  Tensor s = sum_to(x, {3, 1});
  EXPECT_EQ(s.shape(), (Shape{3, 1}));
  // sum over axes 0 and 2: row j gets sum_i sum_k (12 i + 4 j + k) = 48 + 32 j + 12
  EXPECT_EQ(values(s), (Values{60, 92, 124}));
  EXPECT_TRUE(sum_to(x, {2, 3, 4}).is_same(x));
  EXPECT_EQ(sum_to(x, {}).item<double>(), 276.0);
  EXPECT_EQ(values(sum_to(x, {1, 4})), (Values{60, 66, 72, 78}));
}

INSTANTIATE_TEST_SUITE_P(BothFloatingTypes, ReduceDtype,
                         ::testing::Values(DType::Float32, DType::Float64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Reduce, Int64SumAndMax) {
  Tensor x = Tensor::from_vector<int64_t>({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor s = sum(x, {0});
  EXPECT_EQ(s.dtype(), DType::Int64);
  EXPECT_EQ(to_int64_vector(s), (std::vector<int64_t>{9, 12}));
  EXPECT_EQ(amax(x).item<int64_t>(), 6);
  EXPECT_EQ(to_int64_vector(argmax(x, 0)), (std::vector<int64_t>{2, 2}));
}

TEST(Reduce, ZeroSizeAxes) {
  Tensor x = Tensor::empty({2, 0, 3});
  Tensor s = sum(x, {1});
  EXPECT_EQ(s.shape(), (Shape{2, 3}));
  EXPECT_EQ(values(s), Values(6, 0.0));
  EXPECT_EQ(sum(x, {0}).shape(), (Shape{0, 3}));
  EXPECT_TRUE(std::isnan(mean(x).item<double>()));
  expect_error([&] { amax(x, {1}); }, {"amax", "cannot reduce over axis 1 of size 0"});
  expect_error([&] { max(x, 1); }, {"max", "axis 1 of size 0"});
}

TEST(Reduce, LargeSumsAreAccurateOnEveryPath) {
  // float32 sums accumulate in double, so each kernel call rounds once (relative error at
  // most 2^-24); a float32 accumulator would drift far beyond that over 10^5 terms.
  // Separated axes take one kernel call (one rounding) per run of reduced axes.
  auto check = [](const Shape& shape, const Axes& axes, int roundings = 1) {
    const int64_t n = numel_of(shape);
    std::vector<float> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = 0.1f + static_cast<float>(i % 13) * 0.01f;
    Tensor x = Tensor::from_vector<float>(v, shape);
    std::vector<double> d(v.begin(), v.end());
    std::vector<bool> mask(shape.size(), false);
    for (int64_t a : axes) mask[a] = true;
    Values expected = brute_sum(d, shape, mask);
    Values got = values(sum(x, axes, true));
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], expected[i], std::fabs(expected[i]) * roundings * 6e-8)
          << shape_str(shape) << " element " << i;
  };
  check({1 << 20}, {0});           // one long row: split into pieces
  check({3, 100000}, {1});         // few long rows
  check({200000, 3}, {0});         // leading axis of a narrow matrix: split rows
  check({64, 4096}, {0});          // leading axis, many column blocks
  check({50, 40, 30}, {0, 2}, 2);  // separated axes: two runs
  check({512, 300}, {1});          // many rows in parallel
}

TEST(Reduce, LargeMaxFindsTheSingleLargest) {
  for (const Shape& shape : {Shape{1 << 20}, Shape{150000, 3}, Shape{3, 150000}}) {
    const int64_t n = numel_of(shape);
    std::vector<double> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = std::sin(static_cast<double>(i));
    v[n / 3 + 7] = 5.0;
    v[n / 2] = -5.0;
    Tensor x = Tensor::from_vector<double>(v, shape);
    EXPECT_EQ(amax(x).item<double>(), 5.0);
    EXPECT_EQ(amin(x).item<double>(), -5.0);
    EXPECT_EQ(amax(amax(x, {0})).item<double>(), 5.0);  // leading axis (column path)
    EXPECT_EQ(amin(amin(x, {-1})).item<double>(), -5.0);
    Tensor flat = reshape(x, {n});
    EXPECT_EQ(argmax(flat, 0).item<int64_t>(), n / 3 + 7);
  }
}

TEST(Reduce, AmaxGradientGoesToTheFirstMaximum) {
  Tensor x = Tensor::from_vector<double>({1, 3, 3, 2, 2, 0}, {2, 3}).set_requires_grad(true);
  amax(x, {1}).backward(Tensor::from_vector<double>({10, 20}, {2}));
  EXPECT_EQ(values(x.grad()), (Values{0, 10, 0, 20, 0, 0}));
  x.zero_grad();
  amax(x).backward();  // over all axes: the first 3
  EXPECT_EQ(values(x.grad()), (Values{0, 1, 0, 0, 0, 0}));
  x.zero_grad();
  amin(x, {0}, true).backward(Tensor::from_vector<double>({1, 2, 3}, {1, 3}));
  EXPECT_EQ(values(x.grad()), (Values{1, 0, 0, 0, 2, 3}));

  // Separated axes of a 3-D tensor (permute + flatten path).
  Tensor y =
      Tensor::from_vector<double>({0, 9, 1, 2, 9, 3, 4, 5}, {2, 2, 2}).set_requires_grad(true);
  amax(y, {0, 2}).backward(Tensor::from_vector<double>({1, 1}, {2}));
  // axis 1 = 0: elements {0, 9, 9, 3} -> the first 9 (index 1); axis 1 = 1: {1, 2, 4, 5} -> 5.
  EXPECT_EQ(values(y.grad()), (Values{0, 1, 0, 0, 0, 0, 0, 1}));
}

TEST(Reduce, MaxValuesGradientScattersToIndices) {
  Tensor x = Tensor::from_vector<double>({4, 1, 4, 2, 8, 3}, {3, 2}).set_requires_grad(true);
  ValuesIndices m = max(x, 0);
  EXPECT_TRUE(m.values.requires_grad());
  EXPECT_FALSE(m.indices.requires_grad());
  m.values.backward(Tensor::from_vector<double>({1, 2}, {2}));
  EXPECT_EQ(values(x.grad()), (Values{0, 0, 0, 0, 1, 2}));
  EXPECT_FALSE(argmax(x, 0).requires_grad());
}

TEST(Reduce, SumBackwardExpands) {
  Tensor x = iota({2, 3}).set_requires_grad(true);
  sum(x, {0}).backward(Tensor::from_vector<double>({1, 2, 3}, {3}));
  EXPECT_EQ(values(x.grad()), (Values{1, 2, 3, 1, 2, 3}));
  x.zero_grad();
  mean(x).backward();
  for (double g : values(x.grad())) EXPECT_NEAR(g, 1.0 / 6.0, 1e-15);
}

TEST(Reduce, Errors) {
  Tensor x = iota({2, 3});
  expect_error([&] { sum(x, {2}); }, {"sum", "axis 2 is out of range"});
  expect_error([&] { sum(x, {1, -1}); }, {"sum", "appears twice"});
  expect_error([&] { mean(x, {-3}); }, {"mean", "out of range"});
  expect_error([&] { mean(Tensor::from_vector<int64_t>({1}, {1})); },
               {"mean", "floating", "int64"});
  expect_error([&] { var(Tensor::from_vector<int64_t>({1}, {1})); }, {"var", "floating"});
  expect_error([&] { sum(Tensor::from_vector<uint8_t>({1}, {1})); }, {"sum", "uint8"});
  expect_error([&] { norm(x, 0.0); }, {"norm", "p must be positive"});
  expect_error([&] { norm(x, -1.0); }, {"norm", "got -1"});
  expect_error([&] { amax(x, {5}); }, {"amax", "out of range"});
  expect_error([&] { max(x, 2); }, {"max", "out of range"});
  expect_error([&] { argmax(x, -3); }, {"argmax", "out of range"});
  expect_error([&] { logsumexp(Tensor::empty({0}, DType::Float64)); }, {"logsumexp", "size 0"});
  expect_error([&] { sum_to(x, {3, 3}); }, {"sum_to", "cannot reduce", "[3, 3]"});
  expect_error([&] { sum_to(x, {1, 2, 3}); }, {"sum_to", "cannot reduce"});
}

}  // namespace
}  // namespace kite
