// The VAE baselines as the binaries see them: configurations as JSON (stored in
// checkpoints), loading trained models (train_vae: kind "vae"; train_two_stage: kind
// "two_stage_vae"), and whole-set passes (posterior means, reconstruction error).
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/common/autoencoder_io.h"
#include "apps/common/distributed.h"
#include "apps/common/training.h"
#include "data/image_set.h"
#include "models/vae/two_stage_vae.h"

namespace kite::apps {

// {"architecture": {...autoencoder...}, "gamma": g, "learn_gamma": b, "beta": b}
nlohmann::json vae_config_to_json(const vae::VaeConfig& config);
vae::VaeConfig vae_config_from_json(const nlohmann::json& json);
nlohmann::json second_stage_config_to_json(const vae::SecondStageConfig& config);
vae::SecondStageConfig second_stage_config_from_json(const nlohmann::json& json);

struct LoadedVae {
  std::shared_ptr<vae::Vae> model;  // evaluation mode, on the requested device
  LoadedCheckpoint checkpoint;
};
LoadedVae load_vae(const std::string& path, Device device);

struct LoadedTwoStageVae {
  std::shared_ptr<vae::TwoStageVae> model;
  LoadedCheckpoint checkpoint;
};
LoadedTwoStageVae load_two_stage_vae(const std::string& path, Device device);

// The posterior of every image of `set`, in order, float32 [N, latent] each, on the CPU.
struct SetPosterior {
  Tensor mean, log_var;
};
SetPosterior encode_posterior(vae::Vae& model, const data::ImageSet& set, int64_t batch_size,
                              Device device);

// After a step: the global batch's loss (the mean of the ranks' equal shares), with `loss.kl`
// and `loss.sse` replaced by their means too. `interrupted` is true on every rank when any
// rank was asked to stop. Collective.
struct GlobalVaeLoss {
  double total = 0;
  bool interrupted = false;
};
GlobalVaeLoss average_over_ranks(const Distributed& dist, vae::VaeLoss& loss);

}  // namespace kite::apps
