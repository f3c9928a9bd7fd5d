// Factories: constants in every dtype, ranges, random tensors (reproducible from a seed,
// with the right moments), dropout (scaling, eval identity), dtype round trips and the
// gradient cast back, device moves, clone, and the in-place fill_/copy_ with their
// no-grad guard.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/factory.h"

namespace kite {
namespace {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

struct Moments {
  double mean = 0, var = 0;
};
Moments moments_of(const Tensor& t) {
  std::vector<double> v = to_double_vector(t);
  Moments m;
  for (double x : v) m.mean += x;
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= static_cast<double>(v.size() - 1);
  return m;
}

// ---- Constants and ranges ----

TEST(Factory, ConstantsInEveryDtype) {
  for (DType dtype : {DType::Float32, DType::Float64, DType::Int64, DType::UInt8}) {
    SCOPED_TRACE(dtype_name(dtype));
    Tensor z = zeros({2, 3}, dtype);
    EXPECT_EQ(z.dtype(), dtype);
    EXPECT_EQ(z.shape(), (Shape{2, 3}));
    EXPECT_EQ(to_double_vector(z), std::vector<double>(6, 0.0));
    EXPECT_EQ(to_double_vector(ones({4}, dtype)), std::vector<double>(4, 1.0));
    EXPECT_EQ(to_double_vector(full({3}, 7.0, dtype)), std::vector<double>(3, 7.0));
  }
  EXPECT_EQ(to_double_vector(full({2}, -2.5, DType::Float64)), (std::vector<double>{-2.5, -2.5}));
  Tensor s = scalar_tensor(3.5, DType::Float64);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<double>(), 3.5);
  Tensor x = full({2, 2}, 4.0, DType::Float64);
  EXPECT_EQ(zeros_like(x).dtype(), DType::Float64);
  EXPECT_EQ(to_double_vector(ones_like(x)), std::vector<double>(4, 1.0));
  EXPECT_EQ(to_double_vector(full_like(x, 9.0)), std::vector<double>(4, 9.0));
  EXPECT_EQ(zeros({0, 5}).numel(), 0);
}

TEST(Factory, Arange) {
  EXPECT_EQ(to_double_vector(arange(0, 5)), (std::vector<double>{0, 1, 2, 3, 4}));
  EXPECT_EQ(to_double_vector(arange(1, 2, 0.25, DType::Float64)),
            (std::vector<double>{1, 1.25, 1.5, 1.75}));
  EXPECT_EQ(to_double_vector(arange(5, 0, -2, DType::Int64)), (std::vector<double>{5, 3, 1}));
  EXPECT_EQ(arange(5, 0, -2, DType::Int64).dtype(), DType::Int64);
  EXPECT_EQ(arange(3, 3).numel(), 0);
  EXPECT_NE(error_of([] { arange(0, 1, 0); }).find("arange: step must be non-zero"),
            std::string::npos);
  EXPECT_NE(error_of([] { arange(0, 5, -1); }).find("arange"), std::string::npos);
}

TEST(Factory, LinspaceHitsBothEnds) {
  std::vector<double> v = to_double_vector(linspace(-1.0, 0.3, 7, DType::Float64));
  ASSERT_EQ(v.size(), 7u);
  EXPECT_EQ(v.front(), -1.0);
  EXPECT_EQ(v.back(), 0.3);
  for (int i = 0; i < 7; ++i) EXPECT_NEAR(v[i], -1.0 + 1.3 * i / 6.0, 1e-15);
  EXPECT_EQ(to_double_vector(linspace(2, 3, 1)), (std::vector<double>{2}));
  EXPECT_EQ(linspace(2, 3, 0).numel(), 0);
  EXPECT_NE(error_of([] { linspace(0, 1, -1); }).find("linspace: steps"), std::string::npos);
}

// ---- Random ----

TEST(FactoryRandom, ReproducibleFromASeed) {
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Generator g1(42), g2(42), g3(43);
    Tensor a = randn({100}, dtype, Device::cpu(), &g1);
    Tensor b = randn({100}, dtype, Device::cpu(), &g2);
    Tensor c = randn({100}, dtype, Device::cpu(), &g3);
    EXPECT_EQ(to_double_vector(a), to_double_vector(b));
    EXPECT_NE(to_double_vector(a), to_double_vector(c));
    // The generator advanced: a second draw differs from the first.
    EXPECT_NE(to_double_vector(rand({100}, dtype, Device::cpu(), &g1)),
              to_double_vector(rand({100}, dtype, Device::cpu(), &g3)));
  }
  // The default generator is reseeded by manual_seed.
  manual_seed(7);
  std::vector<double> first = to_double_vector(rand({10}));
  manual_seed(7);
  EXPECT_EQ(to_double_vector(rand({10})), first);
}

TEST(FactoryRandom, UniformMoments) {
  Generator g(1);
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Tensor u = rand({200000}, dtype, Device::cpu(), &g);
    for (double v : to_double_vector(u)) ASSERT_TRUE(v > 0.0 && v <= 1.0) << v;
    Moments m = moments_of(u);
    // Standard error of the mean: sqrt(1/12 / n) ~ 6.5e-4; 5 sigma.
    EXPECT_NEAR(m.mean, 0.5, 5 * 6.5e-4);
    EXPECT_NEAR(m.var, 1.0 / 12.0, 2e-3);
  }
}

TEST(FactoryRandom, NormalMoments) {
  Generator g(2);
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Tensor z = randn({200000}, dtype, Device::cpu(), &g);
    Moments m = moments_of(z);
    EXPECT_NEAR(m.mean, 0.0, 5 * std::sqrt(1.0 / 200000));
    EXPECT_NEAR(m.var, 1.0, 5 * std::sqrt(2.0 / 200000));
    Tensor like = randn_like(z, &g);
    EXPECT_EQ(like.dtype(), dtype);
    EXPECT_EQ(like.shape(), z.shape());
  }
}

TEST(FactoryRandom, Bernoulli) {
  Generator g(3);
  Tensor b = bernoulli({100000}, 0.3, DType::Float64, Device::cpu(), &g);
  std::vector<double> v = to_double_vector(b);
  for (double x : v) ASSERT_TRUE(x == 0.0 || x == 1.0);
  const double frac = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  EXPECT_NEAR(frac, 0.3, 5 * std::sqrt(0.3 * 0.7 / 100000));
  EXPECT_EQ(to_double_vector(bernoulli({50}, 0.0, DType::Float32, Device::cpu(), &g)),
            std::vector<double>(50, 0.0));
  EXPECT_EQ(to_double_vector(bernoulli({50}, 1.0, DType::Float32, Device::cpu(), &g)),
            std::vector<double>(50, 1.0));
  EXPECT_NE(error_of([] { bernoulli({2}, 1.5); }).find("bernoulli: probability"),
            std::string::npos);
  EXPECT_NE(error_of([] { rand({2}, DType::Int64); }).find("rand: random tensors must be float"),
            std::string::npos);
}

// ---- Dropout ----

TEST(Dropout, ScalesSurvivorsAndDropsAboutP) {
  Generator g(5);
  const double p = 0.25;
  Tensor x = full({100000}, 2.0, DType::Float64);
  Tensor y = dropout(x, p, true, &g);
  std::vector<double> v = to_double_vector(y);
  int64_t dropped = 0;
  for (double value : v) {
    if (value == 0.0) {
      ++dropped;
    } else {
      ASSERT_DOUBLE_EQ(value, 2.0 / (1.0 - p));
    }
  }
  EXPECT_NEAR(static_cast<double>(dropped) / v.size(), p, 5 * std::sqrt(p * (1 - p) / v.size()));
  // In expectation the output equals the input.
  EXPECT_NEAR(moments_of(y).mean, 2.0, 0.02);
}

TEST(Dropout, EvaluationAndZeroPAreTheIdentity) {
  Tensor x = randn({10});
  EXPECT_TRUE(dropout(x, 0.5, false).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0, true).is_same(x));
  EXPECT_EQ(to_double_vector(dropout(x, 1.0, true)), std::vector<double>(10, 0.0));
  EXPECT_NE(error_of([&] { dropout(x, 1.5, true); }).find("dropout: probability"),
            std::string::npos);
}

TEST(Dropout, GradientIsTheScaledMask) {
  Generator g(9);
  Tensor x = randn({1000}, DType::Float64).set_requires_grad(true);
  Tensor y = dropout(x, 0.5, true, &g);
  y.backward(ones_like(y));
  std::vector<double> out = to_double_vector(y), grad = to_double_vector(x.grad());
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(grad[i], out[i] == 0.0 ? 0.0 : 2.0);
}

// ---- Conversions ----

TEST(FactoryConvert, DtypeRoundTrips) {
  Tensor f = Tensor::from_vector<float>({1.5f, -2.25f, 1e-3f}, {3});
  Tensor d = to_dtype(f, DType::Float64);
  EXPECT_EQ(d.dtype(), DType::Float64);
  EXPECT_EQ(to_double_vector(to_dtype(d, DType::Float32)), to_double_vector(f));
  Tensor i = Tensor::from_vector<int64_t>({-3, 0, 1 << 20}, {3});
  EXPECT_EQ(to_int64_vector(to_dtype(to_dtype(i, DType::Float64), DType::Int64)),
            to_int64_vector(i));
  Tensor u = Tensor::from_vector<uint8_t>({0, 17, 255}, {3});
  Tensor uf = to_dtype(u, DType::Float32);
  EXPECT_EQ(to_double_vector(uf), (std::vector<double>{0, 17, 255}));
  EXPECT_EQ(to_int64_vector(to_dtype(uf, DType::UInt8)), (std::vector<int64_t>{0, 17, 255}));
  // Float to integer truncates toward zero, as a C++ cast does.
  EXPECT_EQ(to_int64_vector(to_dtype(Tensor::from_vector<double>({2.7, -2.7}, {2}), DType::Int64)),
            (std::vector<int64_t>{2, -2}));
  EXPECT_TRUE(to_dtype(f, DType::Float32).is_same(f));
  // A strided source.
  Tensor m = Tensor::from_vector<double>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor mt = to_dtype(m.as_strided({3, 2}, {1, 3}, 0), DType::Float32);
  EXPECT_TRUE(mt.is_contiguous());
  EXPECT_EQ(to_double_vector(mt), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST(FactoryConvert, DtypeGradientIsCastBack) {
  Tensor x = Tensor::from_vector<double>({1.0, 2.0}, {2}).set_requires_grad(true);
  Tensor y = to_dtype(x, DType::Float32);
  EXPECT_TRUE(y.requires_grad());
  mul(y, 3.0).backward(ones({2}, DType::Float32));
  EXPECT_EQ(x.grad().dtype(), DType::Float64);
  EXPECT_EQ(to_double_vector(x.grad()), (std::vector<double>{3.0, 3.0}));
  // Integer results carry no gradient.
  EXPECT_FALSE(to_dtype(x, DType::Int64).requires_grad());
}

TEST(FactoryConvert, DeviceMoves) {
  Tensor x = ones({2});
  EXPECT_TRUE(to_device(x, Device::cpu()).is_same(x));
  if (!has_backend(DeviceType::CUDA)) {
    const std::string message = error_of([&] { to_device(x, Device::cuda(0)); });
    EXPECT_NE(message.find("to_device"), std::string::npos) << message;
    EXPECT_NE(message.find("built without CUDA"), std::string::npos) << message;
  }
}

TEST(FactoryConvert, CloneIsAContiguousCopyWithGradient) {
  Tensor m = Tensor::from_vector<double>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor c = clone(m.as_strided({3, 2}, {1, 3}, 0));
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(to_double_vector(c), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  EXPECT_NE(c.storage(), m.storage());
  Tensor x = Tensor::from_vector<double>({1.0, 2.0}, {2}).set_requires_grad(true);
  mul(clone(x), 4.0).backward(ones({2}, DType::Float64));
  EXPECT_EQ(to_double_vector(x.grad()), (std::vector<double>{4.0, 4.0}));
}

// ---- In place ----

TEST(FactoryInPlace, FillAndCopyIntoViews) {
  Tensor m = zeros({2, 3}, DType::Float64);
  fill_(m.as_strided({2}, {3}, 1), 5.0);  // column 1
  EXPECT_EQ(to_double_vector(m), (std::vector<double>{0, 5, 0, 0, 5, 0}));
  // copy_ broadcasts a row and converts float32 -> float64.
  copy_(m, Tensor::from_vector<float>({1, 2, 3}, {3}));
  EXPECT_EQ(to_double_vector(m), (std::vector<double>{1, 2, 3, 1, 2, 3}));
  // Into a transposed view.
  copy_(m.as_strided({3, 2}, {1, 3}, 0),
        Tensor::from_vector<double>({10, 40, 20, 50, 30, 60}, {3, 2}));
  EXPECT_EQ(to_double_vector(m), (std::vector<double>{10, 20, 30, 40, 50, 60}));
  copy_(m, scalar_tensor(-1.0, DType::Int64));
  EXPECT_EQ(to_double_vector(m), std::vector<double>(6, -1.0));
  const std::string message = error_of([&] { copy_(m, zeros({4})); });
  EXPECT_NE(message.find("copy_"), std::string::npos) << message;
  EXPECT_NE(message.find("[4]"), std::string::npos) << message;
}

TEST(FactoryInPlace, RefusesTensorsThatRequireGradUnderGradMode) {
  Tensor w = zeros({3}, DType::Float64).set_requires_grad(true);
  std::string message = error_of([&] { fill_(w, 1.0); });
  EXPECT_NE(message.find("fill_: cannot write in place"), std::string::npos) << message;
  EXPECT_NE(message.find("requires grad"), std::string::npos) << message;
  message = error_of([&] { copy_(w, ones({3}, DType::Float64)); });
  EXPECT_NE(message.find("copy_: cannot write in place"), std::string::npos) << message;
  {
    NoGradGuard no_grad;
    fill_(w, 2.0);
    EXPECT_EQ(to_double_vector(w), std::vector<double>(3, 2.0));
    copy_(w, ones({3}, DType::Float64));
    EXPECT_EQ(to_double_vector(w), std::vector<double>(3, 1.0));
  }
}

TEST(FactoryInPlace, LargeStridedCopy) {
  // Above the threading threshold, through the strided path of the copy kernel.
  const int64_t rows = 257, cols = 300;
  std::vector<double> values(rows * cols);
  std::iota(values.begin(), values.end(), 0.0);
  Tensor src = Tensor::from_vector(values, {rows, cols});
  Tensor dst = zeros({cols, rows}, DType::Float32);
  copy_(dst, src.as_strided({cols, rows}, {1, cols}, 0));
  std::vector<double> got = to_double_vector(dst);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < rows; ++j) ASSERT_EQ(got[i * rows + j], values[j * cols + i]);
}

}  // namespace
}  // namespace kite
