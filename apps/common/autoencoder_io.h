// The stage-1 autoencoder as the binaries see it: its configuration as JSON (stored in
// checkpoints), loading a trained model from a train_ae checkpoint, and batched no-grad
// passes over a whole ImageSet (codes, reconstruction error).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/common/training.h"
#include "data/image_set.h"
#include "models/ae/autoencoder.h"

namespace kite::apps {

// {"image_size": 28, "image_channels": 1, "channels": [64, 128], "latent_dim": 32}
nlohmann::json autoencoder_config_to_json(const ae::AutoencoderConfig& config);
// Throws kite::Error naming the missing or bad field.
ae::AutoencoderConfig autoencoder_config_from_json(const nlohmann::json& json);

struct LoadedAutoencoder {
  std::shared_ptr<ae::Autoencoder> model;  // on the requested device, in evaluation mode
  LoadedCheckpoint checkpoint;             // the run's state and configuration (config["model"])
};

// Reads a train_ae checkpoint (kind "autoencoder") and rebuilds its model.
LoadedAutoencoder load_autoencoder(const std::string& path, Device device);

// Codes of every image of `set`, in order, as float32 [N, latent] on the CPU (evaluation mode
// required; no grad; batches of `batch_size`).
Tensor encode_images(ae::Autoencoder& model, const data::ImageSet& set, int64_t batch_size,
                     Device device);

struct ReconstructionError {
  int64_t images = 0;
  double mse = 0;          // mean squared error per pixel (and channel)
  double mse_clipped = 0;  // the same with the reconstruction clamped to [0, 1]
  double sse_per_image =
      0;  // squared error summed over an image's pixels, averaged over images (the paper's figure)
  double sse_per_image_clipped = 0;
};

// Reconstruction error of any image -> image map over `set` (no grad, batches): the VAEs
// reconstruct from the posterior mean through this.
ReconstructionError reconstruction_error_of(const std::function<Tensor(const Tensor&)>& reconstruct,
                                            const data::ImageSet& set, int64_t batch_size,
                                            Device device);

// The reconstruction error of the model over `set` (evaluation as the model's mode is set).
ReconstructionError reconstruction_error(ae::Autoencoder& model, const data::ImageSet& set,
                                         int64_t batch_size, Device device);

}  // namespace kite::apps
