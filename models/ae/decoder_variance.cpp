// A learnt decoder variance for the deterministic autoencoder: see decoder_variance.h.
#include "models/ae/decoder_variance.h"

#include <cmath>

#include "engine/error.h"
#include "engine/shape.h"
#include "ops/ops.h"

namespace kite::ae {

DecoderVariance::DecoderVariance(DType dtype) {
  log_gamma = zeros({1}, dtype);
  log_gamma.set_requires_grad(true);
  register_parameter("log_gamma", &log_gamma);
}

Tensor DecoderVariance::loss(const Tensor& mse) const {
  KITE_CHECK(mse.numel() == 1,
             "DecoderVariance::loss: expected the batch's MSE (one value), got shape "
                 << shape_str(mse.shape()));
  return mse * exp(-log_gamma) * 0.5 + log_gamma * 0.5;
}

double DecoderVariance::gamma() const {
  return std::exp(
      to_device(to_dtype(log_gamma.detach(), DType::Float64), Device::cpu()).item<double>());
}

}  // namespace kite::ae
