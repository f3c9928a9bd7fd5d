// The VAE baselines as the binaries see them (see vae_io.h).
#include "apps/common/vae_io.h"

#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/ops.h"

namespace kite::apps {

nlohmann::json vae_config_to_json(const vae::VaeConfig& config) {
  return {{"architecture", autoencoder_config_to_json(config.architecture)},
          {"gamma", config.gamma},
          {"learn_gamma", config.learn_gamma},
          {"beta", config.beta}};
}

vae::VaeConfig vae_config_from_json(const nlohmann::json& json) {
  vae::VaeConfig config;
  try {
    config.architecture = autoencoder_config_from_json(json.at("architecture"));
    config.gamma = json.at("gamma").get<double>();
    config.learn_gamma = json.at("learn_gamma").get<bool>();
    config.beta = json.at("beta").get<double>();
  } catch (const nlohmann::json::exception& e) {
    KITE_FAIL("VAE configuration " << json.dump() << ": " << e.what());
  }
  config.validate();
  return config;
}

nlohmann::json second_stage_config_to_json(const vae::SecondStageConfig& config) {
  return {{"dim", config.dim}, {"hidden", config.hidden}, {"depth", config.depth}};
}

vae::SecondStageConfig second_stage_config_from_json(const nlohmann::json& json) {
  vae::SecondStageConfig config;
  try {
    config.dim = json.at("dim").get<int64_t>();
    config.hidden = json.at("hidden").get<int64_t>();
    config.depth = json.at("depth").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    KITE_FAIL("second-stage configuration " << json.dump() << ": " << e.what());
  }
  config.validate();
  return config;
}

LoadedVae load_vae(const std::string& path, Device device) {
  LoadedVae loaded{nullptr, read_training_checkpoint(path, "vae")};
  const nlohmann::json& config = loaded.checkpoint.state.config;
  KITE_CHECK(config.contains("model"), "checkpoint " << path << ": configuration lacks 'model'");
  loaded.model = std::make_shared<vae::Vae>(vae_config_from_json(config["model"]));
  loaded.checkpoint.restore_model(*loaded.model);
  loaded.model->to(device);
  loaded.model->eval();
  return loaded;
}

LoadedTwoStageVae load_two_stage_vae(const std::string& path, Device device) {
  LoadedTwoStageVae loaded{nullptr, read_training_checkpoint(path, "two_stage_vae")};
  const nlohmann::json& config = loaded.checkpoint.state.config;
  KITE_CHECK(config.contains("stage1") && config.contains("stage2"),
             "checkpoint " << path << ": configuration lacks 'stage1'/'stage2'");
  loaded.model = std::make_shared<vae::TwoStageVae>(
      vae_config_from_json(config["stage1"]), second_stage_config_from_json(config["stage2"]));
  loaded.checkpoint.restore_model(*loaded.model);
  loaded.model->to(device);
  loaded.model->eval();
  return loaded;
}

SetPosterior encode_posterior(vae::Vae& model, const data::ImageSet& set, int64_t batch_size,
                              Device device) {
  NoGradGuard no_grad;
  std::vector<Tensor> means, log_vars;
  for (int64_t first = 0; first < set.n; first += batch_size) {
    const int64_t count = std::min(batch_size, set.n - first);
    vae::Posterior q = model.encode(to_device(data::images_to_tensor(set, first, count), device));
    means.push_back(to_device(q.mean, Device::cpu()));
    log_vars.push_back(to_device(q.log_var, Device::cpu()));
  }
  return {contiguous(cat(means, 0)), contiguous(cat(log_vars, 0))};
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
