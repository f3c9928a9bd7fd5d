// Stage 1 of the decoupled VAE: a deterministic convolutional autoencoder, as in the
// authors' code (Soft-IntroVAE's architecture without the variational part).
//
// Encoder g, for channel list (c0, c1, ..., cK) and image size S:
//   conv5x5(image channels -> c0, no bias) + BN + LeakyReLU(0.2) + AvgPool2      S/2
//   for each next width ck: ResidualBlock(c(k-1) -> ck) + AvgPool2               halves again
//   ResidualBlock(cK -> cK); flatten; Linear(cK * B * B -> latent)               B = S / 2^(K+1)
// Decoder h mirrors it:
//   Linear(latent -> cK * B * B) + ReLU; reshape to [cK, B, B]
//   for each width ck from cK down to c0: ResidualBlock(previous -> ck) + Upsample x2 (nearest)
//   ResidualBlock(c0 -> c0); conv5x5(c0 -> image channels, with bias)            no squashing
//
// The authors' 28x28 model (channels 64, 128; latent 32) is AutoencoderConfig{} and
// AutoencoderConfig::for_image(28, 1); 28 -> 14 -> 7, so B = 7.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/ae/residual_block.h"
#include "models/nn/linear.h"

namespace kite::ae {

struct AutoencoderConfig {
  int64_t image_size = 28;     // square images, divisible by 2^(number of widths)
  int64_t image_channels = 1;  // 1 (gray) or 3 (RGB)
  std::vector<int64_t> channels = {64, 128};
  int64_t latent_dim = 32;

  // The defaults for an image size: 28 (64,128; z 32), 32 (64,128,256; z 128),
  // 64 (64,128,256,512; z 128), 128 (64,128,256,512,512; z 256),
  // 256 (64,128,256,512,512,512; z 256, the authors' CelebA model).
  static AutoencoderConfig for_image(int64_t image_size, int64_t image_channels);

  // Side of the smallest feature map (image_size / 2^channels.size()).
  int64_t bottom_size() const;
  // Throws kite::Error naming the bad field.
  void validate() const;
  // "28x28x1, channels 64,128, latent 32".
  std::string describe() const;
  bool operator==(const AutoencoderConfig&) const = default;
};

class Encoder : public nn::Layer {
 public:
  explicit Encoder(const AutoencoderConfig& config, DType dtype = DType::Float32,
                   Generator* generator = nullptr);
  // x [N, image_channels, S, S] -> codes [N, latent_dim].
  Tensor forward(const Tensor& x) override;

 private:
  AutoencoderConfig config_;
  std::shared_ptr<nn::Conv2d> conv_in_;
  std::shared_ptr<nn::BatchNorm2d> bn_in_;
  std::vector<std::shared_ptr<ResidualBlock>> blocks_;
  std::shared_ptr<nn::Linear> fc_;
};

class Decoder : public nn::Layer {
 public:
  explicit Decoder(const AutoencoderConfig& config, DType dtype = DType::Float32,
                   Generator* generator = nullptr);
  // codes [N, latent_dim] -> images [N, image_channels, S, S] (unbounded; ideally in [0, 1]).
  Tensor forward(const Tensor& z) override;

 private:
  AutoencoderConfig config_;
  std::shared_ptr<nn::Linear> fc_;
  std::vector<std::shared_ptr<ResidualBlock>> blocks_;
  std::shared_ptr<nn::Conv2d> conv_out_;
};

// Parameters are named encoder.* and decoder.*, e.g. encoder.res0.conv1.weight.
class Autoencoder : public nn::Layer {
 public:
  explicit Autoencoder(const AutoencoderConfig& config = {}, DType dtype = DType::Float32,
                       Generator* generator = nullptr);
  // The reconstruction decode(encode(x)).
  Tensor forward(const Tensor& x) override;
  Tensor encode(const Tensor& x) { return encoder->forward(x); }
  Tensor decode(const Tensor& z) { return decoder->forward(z); }

  const AutoencoderConfig& config() const { return config_; }

  std::shared_ptr<Encoder> encoder;
  std::shared_ptr<Decoder> decoder;

 private:
  AutoencoderConfig config_;
};

}  // namespace kite::ae
