// BasicConv2d: the unit FID-Inception is made of. A convolution without bias, batch
// normalisation in evaluation mode with a shift but no scale (TensorFlow's
// `scale=False`), eps 1e-3, then ReLU:
//   y = relu((conv2d(x, weight) - mean) / sqrt(var + 1e-3) + beta)
// Its tensors carry the names of the TorchScript archive the weights come from
// (`weight`, `beta`, `mean`, `var`), so the converted file loads without renaming.
//
// Why the normalisation is folded into the convolution in forward(): in evaluation mode it
// is an affine map per output channel, so conv2d(x, weight * s) + (beta - mean * s) with
// s = 1 / sqrt(var + eps) gives the same result with one pass over the activations fewer.
// Folding costs one pass over the weights per call (about 0.2% of the convolution's work
// at batch 1), so no cached copy can go stale after load_state_dict.
#pragma once

#include <cstdint>

#include "models/nn/layer.h"
#include "ops/conv.h"

namespace kite::inception {

inline constexpr double kBatchNormEps = 1e-3;

class BasicConv2d : public nn::Layer {
 public:
  BasicConv2d(int64_t in_channels, int64_t out_channels, Size2d kernel, int64_t stride = 1,
              Padding2d padding = 0);
  Tensor forward(const Tensor& x) override;

  int64_t stride() const { return stride_; }
  const Padding2d& padding() const { return padding_; }

  Tensor weight;  // [out, in, kh, kw]
  Tensor beta;    // [out] shift after normalisation
  Tensor mean;    // [out] moving mean of the convolution's output
  Tensor var;     // [out] moving variance

 private:
  int64_t stride_;
  Padding2d padding_;
};

}  // namespace kite::inception
