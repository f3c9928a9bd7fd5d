// BatchNorm2d: per-channel batch normalisation of NCHW images (Ioffe & Szegedy), as
// torch.nn.BatchNorm2d.
//
// Training mode normalises with the batch's statistics and updates the running mean and
// (unbiased) variance buffers in place; evaluation mode normalises with the running ones.
// Buffers, saved in checkpoints and state dicts next to the parameters:
//   running_mean         [C] zeros at start
//   running_var          [C] ones at start
//   num_batches_tracked  int64 0-d, training forwards so far (kept for PyTorch parity)
// In data-parallel training with --sync-bn (nn::set_sync_batchnorm), training mode uses the
// statistics of all ranks' images (see sync_batchnorm.h).
#pragma once

#include "models/nn/layer.h"

namespace kite::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;  // running = (1 - momentum) running + momentum batch
  bool affine = true;     // learnable per-channel scale (weight, ones) and shift (bias, zeros)
  bool track_running_stats = true;  // false: batch statistics in evaluation mode too
};

class BatchNorm2d : public Layer {
 public:
  explicit BatchNorm2d(int64_t channels, const BatchNormOptions& options = {},
                       DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;

  int64_t channels() const { return channels_; }
  const BatchNormOptions& options() const { return options_; }
  // For recomputing the running statistics (precise_batchnorm.h).
  void set_momentum(double momentum);
  void reset_running_stats();  // mean 0, variance 1, no batches tracked

  Tensor weight, bias;                                    // [C] or undefined (affine off)
  Tensor running_mean, running_var, num_batches_tracked;  // undefined without running stats

 private:
  int64_t channels_;
  BatchNormOptions options_;
};

}  // namespace kite::nn
