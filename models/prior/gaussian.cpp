// Full-covariance Gaussian prior (see gaussian.h).
#include "models/prior/gaussian.h"

#include <cmath>

#include "engine/autograd.h"
#include "ops/det.h"
#include "ops/ops.h"

namespace kite::prior {
namespace {

// Cholesky factor of a symmetric positive definite matrix (float64, CPU), plain loops.
Tensor cholesky(const Tensor& s) {
  const int64_t d = s.size(0);
  std::vector<double> a = to_double_vector(s), l(d * d, 0.0);
  for (int64_t j = 0; j < d; ++j) {
    double diag = a[j * d + j];
    for (int64_t k = 0; k < j; ++k) diag -= l[j * d + k] * l[j * d + k];
    KITE_CHECK(diag > 0, "FullGaussian: covariance is not positive definite (pivot " << j << ")");
    l[j * d + j] = std::sqrt(diag);
    for (int64_t i = j + 1; i < d; ++i) {
      double v = a[i * d + j];
      for (int64_t k = 0; k < j; ++k) v -= l[i * d + k] * l[j * d + k];
      l[i * d + j] = v / l[j * d + j];
    }
  }
  return Tensor::from_vector(l, {d, d});
}

}  // namespace

FullGaussian FullGaussian::fit(const Tensor& codes, double ridge) {
  KITE_CHECK(codes.dim() == 2 && codes.size(0) > codes.size(1),
             "FullGaussian: need more rows than dimensions, got " << describe(codes));
  NoGradGuard no_grad;
  FullGaussian g;
  g.dtype_ = codes.dtype();
  Tensor x = to_device(to_dtype(codes, DType::Float64), Device::cpu());
  const int64_t n = x.size(0), d = x.size(1);
  g.mean = kite::mean(x, {0});
  Tensor centered = x - g.mean;
  g.covariance = matmul(transpose(centered, 0, 1), centered) / static_cast<double>(n - 1);
  std::vector<double> eye(d * d, 0.0);
  for (int64_t i = 0; i < d; ++i) eye[i * d + i] = ridge;
  g.covariance = g.covariance + Tensor::from_vector(eye, {d, d});
  g.precision_ = inverse(g.covariance);
  g.log_det_ = logabsdet(g.covariance).item<double>();
  g.cholesky_ = cholesky(g.covariance);
  return g;
}

Tensor FullGaussian::log_prob(const Tensor& x_in) const {
  NoGradGuard no_grad;
  Tensor x = to_device(to_dtype(x_in, DType::Float64), Device::cpu());
  KITE_CHECK(x.dim() == 2 && x.size(1) == mean.size(0),
             "FullGaussian: expected [n, " << mean.size(0) << "], got " << describe(x_in));
  const double d = static_cast<double>(mean.size(0));
  Tensor c = x - mean;
  Tensor mahalanobis = sum(matmul(c, precision_) * c, {1});
  return mahalanobis * -0.5 - 0.5 * log_det_ - 0.5 * d * std::log(2 * M_PI);
}

Tensor FullGaussian::sample(int64_t n, Generator* generator, double temperature) const {
  NoGradGuard no_grad;
  KITE_CHECK(temperature > 0 && std::isfinite(temperature),
             "FullGaussian::sample: temperature must be positive, got " << temperature);
  Tensor eps = randn({n, mean.size(0)}, DType::Float64, Device::cpu(), generator) * temperature;
  return to_dtype(matmul(eps, transpose(cholesky_, 0, 1)) + mean, dtype_);
}

double standard_normal_nll_per_dim(const Tensor& x) {
  NoGradGuard no_grad;
  Tensor x64 = to_dtype(x, DType::Float64);
  const double d = static_cast<double>(x.size(1));
  return (mean(sum(square(x64), {1})).item<double>() * 0.5) / d + 0.5 * std::log(2 * M_PI);
}

}  // namespace kite::prior
