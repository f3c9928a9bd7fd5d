// The stage-1 autoencoder (see autoencoder.h).
#include "models/ae/autoencoder.h"

#include <sstream>

#include "engine/error.h"
#include "ops/activations.h"
#include "ops/pool.h"
#include "ops/shape_ops.h"
#include "ops/upsample.h"

namespace kite::ae {
namespace {

Tensor halve(const Tensor& x) { return avg_pool2d(x, AvgPool2dOptions{.kernel = 2}); }
Tensor double_size(const Tensor& x) { return upsample_nearest2d(x, 2); }

void check_images(const char* who, const Tensor& x, const AutoencoderConfig& config) {
  KITE_CHECK(x.dim() == 4 && x.size(1) == config.image_channels && x.size(2) == config.image_size &&
                 x.size(3) == config.image_size,
             who << ": expected images [N, " << config.image_channels << ", " << config.image_size
                 << ", " << config.image_size << "], got " << describe(x));
}

}  // namespace

AutoencoderConfig AutoencoderConfig::for_image(int64_t image_size, int64_t image_channels) {
  AutoencoderConfig config;
  config.image_size = image_size;
  config.image_channels = image_channels;
  switch (image_size) {
    case 28:
      config.channels = {64, 128}, config.latent_dim = 32;
      break;
    case 32:
      config.channels = {64, 128, 256}, config.latent_dim = 128;
      break;
    case 64:
      config.channels = {64, 128, 256, 512}, config.latent_dim = 128;
      break;
    case 128:
      config.channels = {64, 128, 256, 512, 512}, config.latent_dim = 256;
      break;
    case 256:
      config.channels = {64, 128, 256, 512, 512, 512}, config.latent_dim = 256;
      break;
    default:
      KITE_FAIL("AutoencoderConfig: no default configuration for image size "
                << image_size
                << " (defaults exist for 28, 32, 64, 128, 256; set the channels yourself)");
  }
  config.validate();
  return config;
}

int64_t AutoencoderConfig::bottom_size() const {
  return image_size >> static_cast<int>(channels.size());
}

void AutoencoderConfig::validate() const {
  KITE_CHECK(image_channels == 1 || image_channels == 3,
             "AutoencoderConfig: image channels must be 1 or 3, got " << image_channels);
  KITE_CHECK(!channels.empty() && channels.size() <= 8,
             "AutoencoderConfig: the channel list needs 1 to 8 widths, got " << channels.size());
  for (int64_t c : channels)
    KITE_CHECK(c > 0, "AutoencoderConfig: channel widths must be positive, got " << c);
  KITE_CHECK(latent_dim > 0, "AutoencoderConfig: latent size must be positive, got " << latent_dim);
  const int64_t factor = int64_t{1} << channels.size();
  KITE_CHECK(image_size > 0 && image_size % factor == 0,
             "AutoencoderConfig: image size " << image_size << " must be divisible by " << factor
                                              << " (halved once per width in the channel list of "
                                              << channels.size() << ")");
}

std::string AutoencoderConfig::describe() const {
  std::ostringstream out;
  out << image_size << "x" << image_size << "x" << image_channels << ", channels ";
  for (size_t i = 0; i < channels.size(); ++i) out << (i ? "," : "") << channels[i];
  out << ", latent " << latent_dim;
  return out.str();
}

Encoder::Encoder(const AutoencoderConfig& config, DType dtype, Generator* generator)
    : config_(config) {
  config_.validate();
  const auto& widths = config_.channels;
  conv_in_ = register_module("conv_in", std::make_shared<nn::Conv2d>(
                                            config_.image_channels, widths[0], 5,
                                            Conv2dOptions{.padding = 2}, false, dtype, generator));
  bn_in_ = register_module(
      "bn_in", std::make_shared<nn::BatchNorm2d>(widths[0], nn::BatchNormOptions{}, dtype));
  int64_t width = widths[0];
  for (size_t k = 1; k <= widths.size(); ++k) {
    // The last block keeps the width; the others step to the next one.
    const int64_t next = k < widths.size() ? widths[k] : width;
    blocks_.push_back(
        register_module("res" + std::to_string(k - 1),
                        std::make_shared<ResidualBlock>(width, next, dtype, generator)));
    width = next;
  }
  const int64_t b = config_.bottom_size();
  fc_ = register_module("fc", std::make_shared<nn::Linear>(width * b * b, config_.latent_dim, true,
                                                           dtype, generator));
}

Tensor Encoder::forward(const Tensor& x) {
  check_images("Encoder", x, config_);
  Tensor h = halve(leaky_relu(bn_in_->forward(conv_in_->forward(x)), kLeakySlope));
  for (size_t k = 0; k < blocks_.size(); ++k) {
    h = blocks_[k]->forward(h);
    if (k + 1 < blocks_.size()) h = halve(h);
  }
  return fc_->forward(flatten(h, 1));
}

Decoder::Decoder(const AutoencoderConfig& config, DType dtype, Generator* generator)
    : config_(config) {
  config_.validate();
  const auto& widths = config_.channels;
  const int64_t b = config_.bottom_size();
  int64_t width = widths.back();
  fc_ = register_module("fc", std::make_shared<nn::Linear>(config_.latent_dim, width * b * b, true,
                                                           dtype, generator));
  for (size_t k = 0; k <= widths.size(); ++k) {
    // Widths in reverse order, each followed by an upsampling; then one block at full size.
    const int64_t next = k < widths.size() ? widths[widths.size() - 1 - k] : width;
    blocks_.push_back(register_module(
        "res" + std::to_string(k), std::make_shared<ResidualBlock>(width, next, dtype, generator)));
    width = next;
  }
  conv_out_ = register_module("conv_out", std::make_shared<nn::Conv2d>(
                                              width, config_.image_channels, 5,
                                              Conv2dOptions{.padding = 2}, true, dtype, generator));
}

Tensor Decoder::forward(const Tensor& z) {
  KITE_CHECK(z.dim() == 2 && z.size(1) == config_.latent_dim,
             "Decoder: expected codes [N, " << config_.latent_dim << "], got " << describe(z));
  const int64_t b = config_.bottom_size();
  Tensor h = reshape(relu(fc_->forward(z)), {z.size(0), config_.channels.back(), b, b});
  for (size_t k = 0; k < blocks_.size(); ++k) {
    h = blocks_[k]->forward(h);
    if (k + 1 < blocks_.size()) h = double_size(h);
  }
  return conv_out_->forward(h);
}

Autoencoder::Autoencoder(const AutoencoderConfig& config, DType dtype, Generator* generator)
    : config_(config) {
  config_.validate();
  encoder = register_module("encoder", std::make_shared<Encoder>(config_, dtype, generator));
  decoder = register_module("decoder", std::make_shared<Decoder>(config_, dtype, generator));
}

Tensor Autoencoder::forward(const Tensor& x) { return decode(encode(x)); }

}  // namespace kite::ae
