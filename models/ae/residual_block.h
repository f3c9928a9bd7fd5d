// The residual block of the paper's autoencoder (the authors' code, after Soft-IntroVAE):
//
//   h   = LeakyReLU_0.2(BN1(conv3x3(x)))
//   h   = BN2(conv3x3(h))
//   out = LeakyReLU_0.2(h + skip(x))      skip = identity, or a 1x1 conv when channels change
//
// All convolutions are bias-free (each is followed by BatchNorm, whose shift makes a bias
// redundant; the 1x1 "expand" has none either, as in the original). Spatial size is kept.
#pragma once

#include <memory>

#include "models/nn/batchnorm.h"
#include "models/nn/conv.h"

namespace kite::ae {

inline constexpr double kLeakySlope = 0.2;

class ResidualBlock : public nn::Layer {
 public:
  ResidualBlock(int64_t in_channels, int64_t out_channels, DType dtype = DType::Float32,
                Generator* generator = nullptr);
  Tensor forward(const Tensor& x) override;

  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }

  // Named as in the original so state dicts read alike: conv_expand, conv1, bn1, conv2, bn2.
  std::shared_ptr<nn::Conv2d> conv_expand;  // null when in_channels == out_channels
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;

 private:
  int64_t in_channels_, out_channels_;
};

}  // namespace kite::ae
