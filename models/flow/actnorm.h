// ActNorm (Glow): y = (x + bias) * exp(log_scale) per feature, initialised from the first
// batch it sees so that y has zero mean and unit variance (the variance floored at 0.2, as
// in Residual Flows, so a near-constant feature is not blown up). log|det dy/dx| is
// sum(log_scale), the same for every sample.
#pragma once

#include "models/nn/module.h"

namespace kite::flow {

class ActNorm : public nn::Module {
 public:
  explicit ActNorm(int64_t features, DType dtype = DType::Float32);
  // Returns y and writes the per-sample log-determinant (shape [B]) into logdet.
  Tensor forward(const Tensor& x, Tensor* logdet);
  Tensor inverse(const Tensor& y);
  bool initialized() const;

  Tensor bias, log_scale;
  Tensor initialized_flag;  // buffer: 0 until data initialisation ran (saved in checkpoints)

 private:
  void initialize(const Tensor& x);
};

}  // namespace kite::flow
