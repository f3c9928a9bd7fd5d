// Code standardisation (see standardizer.h).
#include "models/prior/standardizer.h"

#include "engine/autograd.h"
#include "ops/ops.h"

namespace kite::prior {

Standardizer Standardizer::fit(const Tensor& codes, double min_std) {
  KITE_CHECK(codes.dim() == 2 && codes.size(0) > 1,
             "Standardizer: expected codes [n > 1, d], got " << describe(codes));
  NoGradGuard no_grad;
  Tensor m = kite::mean(codes, {0});
  Tensor s = sqrt(var(codes, {0}, true));
  return {m, maximum(s, full_like(s, min_std))};
}

Tensor Standardizer::forward(const Tensor& codes) const { return (codes - mean) / stddev; }

Tensor Standardizer::inverse(const Tensor& standardized) const {
  return standardized * stddev + mean;
}

double Standardizer::log_det() const {
  NoGradGuard no_grad;
  return -sum(log(to_dtype(stddev, DType::Float64))).item<double>();
}

}  // namespace kite::prior
