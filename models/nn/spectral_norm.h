// Spectrally normalised linear layer (i-ResNet / Residual Flows).
//
// The weight used is W / max(1, sigma / c), where sigma estimates the largest singular value
// of W by power iteration: u <- W v / |W v|, v <- W^T u / |W^T u|, sigma = u^T W v. u and v
// are buffers (saved in checkpoints, warm-started between steps), updated in training mode
// only, without gradient; the gradient does flow through sigma = u^T W v (u, v held fixed),
// as in PyTorch's spectral_norm. The "soft" rule only shrinks W when sigma exceeds c, so the
// layer is c-Lipschitz (up to the power-iteration estimate).
#pragma once

#include "models/nn/layer.h"

namespace kite::nn {

class SNLinear : public Layer {
 public:
  SNLinear(int64_t in_features, int64_t out_features, double coeff = 0.9, int power_iterations = 1,
           DType dtype = DType::Float32, Generator* generator = nullptr);
  Tensor forward(const Tensor& x) override;

  // The weight actually applied (after normalisation), connected to the graph.
  Tensor normalized_weight();
  // Runs `iterations` power iterations now (no grad) and returns the current sigma estimate.
  double update_sigma(int iterations);
  // sigma of the current weight from the stored u, v (no iteration).
  double sigma() const;
  // An independent check: the largest singular value of the weight actually applied, by
  // `iterations` power iterations from a fresh start (leaves u and v untouched).
  double applied_spectral_norm(int iterations = 200);
  double coeff() const { return coeff_; }

  Tensor weight, bias, u, v;

 private:
  double coeff_;
  int power_iterations_;
};

}  // namespace kite::nn
