// The autoencoder as the binaries see it (see autoencoder_io.h).
#include "apps/common/autoencoder_io.h"

#include <algorithm>

#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/loss.h"
#include "ops/shape_ops.h"

namespace kite::apps {

nlohmann::json autoencoder_config_to_json(const ae::AutoencoderConfig& config) {
  return {{"image_size", config.image_size},
          {"image_channels", config.image_channels},
          {"channels", config.channels},
          {"latent_dim", config.latent_dim}};
}

ae::AutoencoderConfig autoencoder_config_from_json(const nlohmann::json& json) {
  ae::AutoencoderConfig config;
  try {
    config.image_size = json.at("image_size").get<int64_t>();
    config.image_channels = json.at("image_channels").get<int64_t>();
    config.channels = json.at("channels").get<std::vector<int64_t>>();
    config.latent_dim = json.at("latent_dim").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    KITE_FAIL("autoencoder configuration " << json.dump() << ": " << e.what());
  }
  config.validate();
  return config;
}

LoadedAutoencoder load_autoencoder(const std::string& path, Device device) {
  LoadedAutoencoder loaded{nullptr, read_training_checkpoint(path, "autoencoder")};
  loaded.model = loaded.checkpoint.restore_for_inference(
      std::make_shared<ae::Autoencoder>(
          autoencoder_config_from_json(loaded.checkpoint.config_section("model"))),
      device);
  return loaded;
}

namespace {

void check_set_matches(const ae::AutoencoderConfig& config, const data::ImageSet& set) {
  KITE_CHECK(
      set.c == config.image_channels && set.h == config.image_size && set.w == config.image_size,
      "the data set's images are " << set.c << "x" << set.h << "x" << set.w
                                   << " but the autoencoder expects " << config.image_channels
                                   << "x" << config.image_size << "x" << config.image_size);
}

}  // namespace

Tensor encode_images(ae::Autoencoder& model, const data::ImageSet& set, int64_t batch_size,
                     Device device) {
  check_set_matches(model.config(), set);
  NoGradGuard no_grad;
  std::vector<Tensor> parts;
  for (int64_t first = 0; first < set.n; first += batch_size) {
    const int64_t count = std::min(batch_size, set.n - first);
    Tensor images = to_device(data::images_to_tensor(set, first, count), device);
    parts.push_back(to_device(model.encode(images), Device::cpu()));
  }
  return contiguous(cat(parts, 0));
}

ReconstructionError reconstruction_error(ae::Autoencoder& model, const data::ImageSet& set,
                                         int64_t batch_size, Device device) {
  check_set_matches(model.config(), set);
  return reconstruction_error_of([&model](const Tensor& x) { return model.forward(x); }, set,
                                 batch_size, device);
}

ReconstructionError reconstruction_error_of(const std::function<Tensor(const Tensor&)>& reconstruct,
                                            const data::ImageSet& set, int64_t batch_size,
                                            Device device) {
  NoGradGuard no_grad;
  double sse = 0, sse_clipped = 0;
  for (int64_t first = 0; first < set.n; first += batch_size) {
    const int64_t count = std::min(batch_size, set.n - first);
    Tensor images = to_device(data::images_to_tensor(set, first, count), device);
    Tensor reconstruction = reconstruct(images);
    sse +=
        to_device(mse_loss(reconstruction, images, Reduction::Sum), Device::cpu()).item<double>();
    sse_clipped +=
        to_device(mse_loss(clamp(reconstruction, 0.0, 1.0), images, Reduction::Sum), Device::cpu())
            .item<double>();
  }
  ReconstructionError error;
  error.images = set.n;
  const double pixels = static_cast<double>(set.n) * static_cast<double>(set.image_bytes());
  error.mse = sse / pixels;
  error.mse_clipped = sse_clipped / pixels;
  error.sse_per_image = sse / static_cast<double>(set.n);
  error.sse_per_image_clipped = sse_clipped / static_cast<double>(set.n);
  return error;
}

}  // namespace kite::apps
