// Elementwise ops: forward values against hand-computed ones in float32 and float64,
// broadcasting (outer, rows, 0-d, empty), strided inputs, the threaded and strided kernel
// paths, errors naming the op and the problem, and a few gradients that gradcheck cannot
// see (ties, masks, the engine's gradient ops).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "engine/autograd.h"
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
  return std::is_same_v<T, float> ? 1e-6 : 1e-14;
}

void expect_values(const Tensor& t, const std::vector<double>& expected, double rel_tol) {
  std::vector<double> got = to_double_vector(t);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "element " << i;
      continue;
    }
    EXPECT_NEAR(got[i], expected[i], rel_tol * std::max(1.0, std::fabs(expected[i])))
        << "element " << i;
  }
}

// The message of the kite::Error thrown by f ("" if none was thrown).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

template <class T>
class ElementwiseTyped : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ElementwiseTyped, FloatTypes);

TYPED_TEST(ElementwiseTyped, UnaryValues) {
  using T = TypeParam;
  const double tol = tolerance<T>();
  Tensor x = make<T>({-2.0, -0.5, 0.0, 0.25, 3.0}, {5});
  Tensor p = make<T>({0.25, 1.0, 4.0, 9.0}, {4});
  EXPECT_EQ(exp(x).dtype(), dtype_of<T>());
  expect_values(neg(x), {2.0, 0.5, 0.0, -0.25, -3.0}, 0);
  expect_values(abs(x), {2.0, 0.5, 0.0, 0.25, 3.0}, 0);
  expect_values(square(x), {4.0, 0.25, 0.0, 0.0625, 9.0}, 0);
  expect_values(sign(x), {-1.0, -1.0, 0.0, 1.0, 1.0}, 0);
  expect_values(clamp(x, -1.0, 1.0), {-1.0, -0.5, 0.0, 0.25, 1.0}, 0);
  expect_values(sqrt(p), {0.5, 1.0, 2.0, 3.0}, tol);
  expect_values(rsqrt(p), {2.0, 1.0, 0.5, 1.0 / 3.0}, tol);
  expect_values(exp(make<T>({0.0, 1.0, -1.0}, {3})), {1.0, 2.718281828459045, 0.36787944117144233},
                tol);
  expect_values(log(make<T>({1.0, 2.718281828459045, 0.5}, {3})), {0.0, 1.0, -0.6931471805599453},
                tol);
  // log1p of a tiny value keeps its digits (log(1 + 1e-10) would lose them in float).
  expect_values(log1p(make<T>({0.0, 1e-10, 1.0}, {3})), {0.0, 1e-10, 0.6931471805599453}, tol);
  // log1p(x) = x - x^2/2 + ... for tiny x, to full relative precision.
  EXPECT_NEAR(to_double_vector(log1p(make<T>({1e-10}, {1})))[0], 1e-10 - 5e-21, 1e-10 * tol);
}

TYPED_TEST(ElementwiseTyped, ScalarVariants) {
  using T = TypeParam;
  const double tol = tolerance<T>();
  Tensor x = make<T>({-2.0, 0.5, 4.0}, {3});
  expect_values(add(x, 1.5), {-0.5, 2.0, 5.5}, 0);
  expect_values(x + 1.5, {-0.5, 2.0, 5.5}, 0);
  expect_values(1.5 + x, {-0.5, 2.0, 5.5}, 0);
  expect_values(sub(x, 1.5), {-3.5, -1.0, 2.5}, 0);
  expect_values(rsub(1.0, x), {3.0, 0.5, -3.0}, 0);
  expect_values(1.0 - x, {3.0, 0.5, -3.0}, 0);
  expect_values(mul(x, -2.0), {4.0, -1.0, -8.0}, 0);
  expect_values(2.0 * x, {-4.0, 1.0, 8.0}, 0);
  expect_values(div(x, 4.0), {-0.5, 0.125, 1.0}, 0);
  expect_values(rdiv(2.0, x), {-1.0, 4.0, 0.5}, 0);
  expect_values(2.0 / x, {-1.0, 4.0, 0.5}, 0);
  expect_values(pow(make<T>({0.5, 2.0, 9.0}, {3}), 0.5), {std::sqrt(0.5), std::sqrt(2.0), 3.0},
                tol);
  expect_values(pow(x, 2.0), {4.0, 0.25, 16.0}, tol);
  expect_values(lt(x, 0.5), {1.0, 0.0, 0.0}, 0);
  expect_values(le(x, 0.5), {1.0, 1.0, 0.0}, 0);
  expect_values(gt(x, 0.5), {0.0, 0.0, 1.0}, 0);
  expect_values(ge(x, 0.5), {0.0, 1.0, 1.0}, 0);
}

TYPED_TEST(ElementwiseTyped, BinaryValues) {
  using T = TypeParam;
  const double tol = tolerance<T>();
  Tensor a = make<T>({1.0, -2.0, 3.0, 0.5}, {2, 2});
  Tensor b = make<T>({4.0, -2.0, -1.0, 2.0}, {2, 2});
  expect_values(add(a, b), {5.0, -4.0, 2.0, 2.5}, 0);
  expect_values(a - b, {-3.0, 0.0, 4.0, -1.5}, 0);
  expect_values(a * b, {4.0, 4.0, -3.0, 1.0}, 0);
  expect_values(a / b, {0.25, 1.0, -3.0, 0.25}, 0);
  expect_values(maximum(a, b), {4.0, -2.0, 3.0, 2.0}, 0);
  expect_values(minimum(a, b), {1.0, -2.0, -1.0, 0.5}, 0);
  expect_values(pow(make<T>({2.0, 9.0, 4.0}, {3}), make<T>({3.0, 0.5, -1.0}, {3})),
                {8.0, 3.0, 0.25}, tol);
  expect_values(eq(a, b), {0, 1, 0, 0}, 0);
  expect_values(ne(a, b), {1, 0, 1, 1}, 0);
  expect_values(lt(a, b), {1, 0, 0, 1}, 0);
  expect_values(le(a, b), {1, 1, 0, 1}, 0);
  expect_values(gt(a, b), {0, 0, 1, 0}, 0);
  expect_values(ge(a, b), {0, 1, 1, 0}, 0);
  EXPECT_EQ(eq(a, b).dtype(), dtype_of<T>());
}

TYPED_TEST(ElementwiseTyped, BroadcastOuterAndRows) {
  using T = TypeParam;
  Tensor col = make<T>({1, 2, 3}, {3, 1});
  Tensor row = make<T>({10, 20, 30, 40}, {1, 4});
  Tensor sum = col + row;
  EXPECT_EQ(sum.shape(), (Shape{3, 4}));
  expect_values(sum, {11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43}, 0);
  expect_values(row - col, {9, 19, 29, 39, 8, 18, 28, 38, 7, 17, 27, 37}, 0);

  Tensor v = make<T>({1, 2, 3, 4, 5}, {5});
  Tensor m = make<T>({1, 1, 1, 1, 1, 2, 2, 2, 2, 2}, {2, 5});
  Tensor prod = v * m;
  EXPECT_EQ(prod.shape(), (Shape{2, 5}));
  expect_values(prod, {1, 2, 3, 4, 5, 2, 4, 6, 8, 10}, 0);
  expect_values(m * v, {1, 2, 3, 4, 5, 2, 4, 6, 8, 10}, 0);
}

TYPED_TEST(ElementwiseTyped, BroadcastZeroDimAndEmpty) {
  using T = TypeParam;
  Tensor s = make<T>({2.0}, {});
  Tensor m = make<T>({1, 2, 3, 4, 5, 6}, {2, 3});
  expect_values(s * m, {2, 4, 6, 8, 10, 12}, 0);
  expect_values(m - s, {-1, 0, 1, 2, 3, 4}, 0);
  Tensor ss = s * s;
  EXPECT_EQ(ss.dim(), 0);
  EXPECT_EQ(ss.item<double>(), 4.0);
  EXPECT_EQ(exp(s).dim(), 0);

  Tensor empty = Tensor::empty({0, 3}, dtype_of<T>());
  Tensor e = empty + make<T>({1, 2, 3}, {3});
  EXPECT_EQ(e.shape(), (Shape{0, 3}));
  EXPECT_EQ(exp(empty).shape(), (Shape{0, 3}));
  EXPECT_EQ((empty * s).numel(), 0);
  EXPECT_EQ(where(empty, empty, s).shape(), (Shape{0, 3}));
}

TYPED_TEST(ElementwiseTyped, StridedInputs) {
  using T = TypeParam;
  // m = [[0, 1, 2], [3, 4, 5]]; its transpose as a view, and every other column.
  Tensor m = make<T>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor mt = m.as_strided({3, 2}, {1, 3}, 0);
  ASSERT_FALSE(mt.is_contiguous());
  expect_values(mt * 2.0, {0, 6, 2, 8, 4, 10}, 0);
  expect_values(exp(mt), to_double_vector(exp(make<T>({0, 3, 1, 4, 2, 5}, {3, 2}))),
                tolerance<T>());
  Tensor b = make<T>({1, 1, 2, 2, 3, 3}, {3, 2});
  expect_values(mt + b, {1, 4, 3, 6, 5, 8}, 0);
  expect_values(b - mt, {1, -2, 1, -2, 1, -2}, 0);
  Tensor every_other = m.as_strided({2, 2}, {3, 2}, 0);  // columns 0 and 2
  expect_values(every_other * make<T>({10, 100}, {2}), {0, 200, 30, 500}, 0);
  // A view with an offset (second row).
  Tensor second_row = m.as_strided({3}, {1}, 3);
  expect_values(second_row - make<T>({3}, {}), {0, 1, 2}, 0);
}

TYPED_TEST(ElementwiseTyped, LargeTensorsMatchElementByElement) {
  using T = TypeParam;
  // Above the threading threshold: flat, scalar-broadcast, bias-row and transposed paths.
  const int64_t rows = 300, cols = 257;
  std::vector<double> av(rows * cols), bv(cols);
  for (int64_t i = 0; i < rows * cols; ++i) av[i] = static_cast<double>((i * 37) % 101) - 50.0;
  for (int64_t j = 0; j < cols; ++j) bv[j] = 0.5 * static_cast<double>(j % 7) + 1.0;
  Tensor a = make<T>(av, {rows, cols});
  Tensor b = make<T>(bv, {cols});
  std::vector<double> got = to_double_vector(a * b);
  std::vector<double> flat = to_double_vector(a + a);
  std::vector<double> scalar = to_double_vector(a - make<T>({3.0}, {}));
  for (int64_t i = 0; i < rows * cols; ++i) {
    ASSERT_EQ(got[i], av[i] * bv[i % cols]) << i;
    ASSERT_EQ(flat[i], av[i] + av[i]) << i;
    ASSERT_EQ(scalar[i], av[i] - 3.0) << i;
  }
  Tensor at = a.as_strided({cols, rows}, {1, cols}, 0);  // transpose
  std::vector<double> transposed = to_double_vector(at + 1.0);
  std::vector<double> column_bias = to_double_vector(at * b.as_strided({cols, 1}, {1, 0}, 0));
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < rows; ++j) {
      ASSERT_EQ(transposed[i * rows + j], av[j * cols + i] + 1.0);
      ASSERT_EQ(column_bias[i * rows + j], av[j * cols + i] * bv[i]);
    }
}

TYPED_TEST(ElementwiseTyped, Where) {
  using T = TypeParam;
  Tensor cond = make<T>({1, 0, 1}, {3, 1});
  Tensor a = make<T>({1, 2, 3, 4}, {4});
  Tensor b = make<T>({-1}, {});
  Tensor out = where(cond, a, b);
  EXPECT_EQ(out.shape(), (Shape{3, 4}));
  expect_values(out, {1, 2, 3, 4, -1, -1, -1, -1, 1, 2, 3, 4}, 0);
  // The condition may have another dtype than the values.
  Tensor cond_u8 = Tensor::from_vector<uint8_t>({0, 1, 0, 1}, {4});
  expect_values(where(cond_u8, a, b), {-1, 2, -1, 4}, 0);
}

TEST(Elementwise, ComparisonsOnIntegers) {
  Tensor a = Tensor::from_vector<int64_t>({1, 5, 3}, {3});
  Tensor b = Tensor::from_vector<int64_t>({1, 2, 7}, {3});
  Tensor same = eq(a, b);
  EXPECT_EQ(same.dtype(), DType::Int64);
  EXPECT_EQ(to_int64_vector(same), (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(to_int64_vector(lt(a, b)), (std::vector<int64_t>{0, 0, 1}));
}

TEST(Elementwise, NanPropagation) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor a = Tensor::from_vector<double>({nan, 1.0, nan}, {3});
  Tensor b = Tensor::from_vector<double>({1.0, nan, 2.0}, {3});
  expect_values(maximum(a, b), {nan, nan, nan}, 0);
  expect_values(minimum(a, b), {nan, nan, nan}, 0);
  expect_values(clamp(a, 0.0, 1.0), {nan, 1.0, nan}, 0);
}

TEST(Elementwise, SpecialValues) {
  const double inf = std::numeric_limits<double>::infinity();
  Tensor x = Tensor::from_vector<float>({0.0f, -1.0f}, {2});
  std::vector<double> logs = to_double_vector(log(x));
  EXPECT_EQ(logs[0], -inf);
  EXPECT_TRUE(std::isnan(logs[1]));
  EXPECT_EQ(to_double_vector(exp(Tensor::from_vector<float>({100.0f}, {1})))[0], inf);
  EXPECT_EQ(to_double_vector(rsqrt(Tensor::from_vector<float>({0.0f}, {1})))[0], inf);
}

// ---- Errors ----

TEST(ElementwiseErrors, DtypeMismatchNamesOpAndTensors) {
  Tensor a = zeros({2, 3}, DType::Float32);
  Tensor b = zeros({2, 3}, DType::Float64);
  const std::string message = error_of([&] { add(a, b); });
  EXPECT_NE(message.find("add"), std::string::npos) << message;
  EXPECT_NE(message.find("dtype mismatch"), std::string::npos) << message;
  EXPECT_NE(message.find("float32[2, 3] on cpu"), std::string::npos) << message;
  EXPECT_NE(message.find("float64[2, 3] on cpu"), std::string::npos) << message;
  EXPECT_NE(error_of([&] { where(a, a, b); }).find("where: dtype mismatch"), std::string::npos);
}

TEST(ElementwiseErrors, ShapeMismatchNamesOpAndShapes) {
  const std::string message = error_of([] { mul(zeros({2, 3}), zeros({4})); });
  EXPECT_NE(message.find("mul"), std::string::npos) << message;
  EXPECT_NE(message.find("[2, 3]"), std::string::npos) << message;
  EXPECT_NE(message.find("[4]"), std::string::npos) << message;
  EXPECT_NE(message.find("cannot be broadcast"), std::string::npos) << message;
}

TEST(ElementwiseErrors, DeviceMismatchNamesDevices) {
  // A tensor that claims to live on cuda:0 (its storage is on the host; no kernel runs, the
  // device check comes first), so the check is testable without a GPU.
  Tensor cpu = zeros({3});
  auto impl = std::make_shared<TensorImpl>(*cpu.impl());
  impl->device = Device::cuda(0);
  Tensor fake_cuda(impl);
  const std::string message = error_of([&] { sub(cpu, fake_cuda); });
  EXPECT_NE(message.find("sub: inputs are on different devices"), std::string::npos) << message;
  EXPECT_NE(message.find("cuda:0"), std::string::npos) << message;
}

TEST(ElementwiseErrors, IntegerInputsToFloatingOps) {
  Tensor labels = Tensor::from_vector<int64_t>({1, 2}, {2});
  std::string message = error_of([&] { exp(labels); });
  EXPECT_NE(message.find("exp: expected a floating tensor"), std::string::npos) << message;
  EXPECT_NE(message.find("int64[2]"), std::string::npos) << message;
  message = error_of([&] { add(labels, labels); });
  EXPECT_NE(message.find("add: expected floating tensors"), std::string::npos) << message;
  message = error_of([&] { exp(Tensor()); });
  EXPECT_NE(message.find("exp: input is an undefined tensor"), std::string::npos) << message;
  message = error_of([] { clamp(zeros({2}), 1.0, -1.0); });
  EXPECT_NE(message.find("clamp: lower bound"), std::string::npos) << message;
}

// ---- Gradients the table-driven gradcheck cannot see ----

Tensor leaf(const std::vector<double>& values, const Shape& shape) {
  return Tensor::from_vector(values, shape).set_requires_grad(true);
}

TEST(ElementwiseGrad, MaximumSplitsTiesEvenly) {
  Tensor a = leaf({1.0, 2.0, 3.0}, {3});
  Tensor b = leaf({1.0, 5.0, 0.0}, {3});
  maximum(a, b).backward(ones({3}, DType::Float64));
  EXPECT_EQ(to_double_vector(a.grad()), (std::vector<double>{0.5, 0.0, 1.0}));
  EXPECT_EQ(to_double_vector(b.grad()), (std::vector<double>{0.5, 1.0, 0.0}));
  Tensor c = leaf({1.0, 2.0}, {2});
  minimum(c, c).backward(ones({2}, DType::Float64));
  EXPECT_EQ(to_double_vector(c.grad()), (std::vector<double>{1.0, 1.0}));
}

TEST(ElementwiseGrad, ClampAndAbsAtTheirKinks) {
  Tensor x = leaf({-2.0, -1.0, 0.0, 1.0, 2.0}, {5});
  clamp(x, -1.0, 1.0).backward(ones({5}, DType::Float64));
  // Gradient 1 inside [lo, hi] including the bounds, 0 outside.
  EXPECT_EQ(to_double_vector(x.grad()), (std::vector<double>{0, 1, 1, 1, 0}));
  Tensor y = leaf({-3.0, 0.0, 2.0}, {3});
  abs(y).backward(ones({3}, DType::Float64));
  EXPECT_EQ(to_double_vector(y.grad()), (std::vector<double>{-1, 0, 1}));
}

TEST(ElementwiseGrad, PowExponentGradientAtZeroBase) {
  Tensor base = leaf({0.0, 2.0}, {2});
  Tensor exponent = leaf({2.0, 3.0}, {2});
  pow(base, exponent).backward(ones({2}, DType::Float64));
  EXPECT_EQ(to_double_vector(exponent.grad())[0], 0.0);
  EXPECT_NEAR(to_double_vector(exponent.grad())[1], 8.0 * std::log(2.0), 1e-12);
  EXPECT_EQ(to_double_vector(base.grad()), (std::vector<double>{0.0, 12.0}));
}

TEST(ElementwiseGrad, ComparisonsAndSignCarryNoGradient) {
  Tensor x = leaf({1.0, -1.0}, {2});
  EXPECT_FALSE(gt(x, 0.0).requires_grad());
  EXPECT_FALSE(eq(x, x).requires_grad());
  EXPECT_FALSE(sign(x).requires_grad());
  EXPECT_TRUE(add(x, 1.0).requires_grad());
}

TEST(ElementwiseGrad, WhereSendsNothingToTheCondition) {
  Tensor cond = leaf({1.0, 0.0}, {2});
  Tensor a = leaf({5.0, 6.0}, {2});
  Tensor b = leaf({7.0}, {1});
  where(cond, a, b).backward(ones({2}, DType::Float64));
  EXPECT_FALSE(cond.grad().defined());
  EXPECT_EQ(to_double_vector(a.grad()), (std::vector<double>{1.0, 0.0}));
  EXPECT_EQ(to_double_vector(b.grad()), (std::vector<double>{1.0}));
}

TEST(ElementwiseGrad, EngineGradientOpsAreRegistered) {
  // backward() of a 0-d output seeds it with ones_like, and a second backward adds into
  // .grad with add: both reach the engine through the registration in elementwise.cpp.
  Tensor x = leaf({2.0}, {});
  mul(x, 3.0).backward();
  mul(x, 3.0).backward();
  EXPECT_EQ(x.grad().item<double>(), 6.0);
  // Two uses of x meet at its accumulator, summed with add.
  Tensor y = leaf({2.0}, {});
  (y * y + y).backward();
  EXPECT_EQ(y.grad().item<double>(), 5.0);
}

}  // namespace
}  // namespace kite
