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
  loaded.model = loaded.checkpoint.restore_for_inference(
      std::make_shared<vae::Vae>(vae_config_from_json(loaded.checkpoint.config_section("model"))),
      device);
  return loaded;
}

LoadedTwoStageVae load_two_stage_vae(const std::string& path, Device device) {
  LoadedTwoStageVae loaded{nullptr, read_training_checkpoint(path, "two_stage_vae")};
  const LoadedCheckpoint& file = loaded.checkpoint;
  loaded.model =
      file.restore_for_inference(std::make_shared<vae::TwoStageVae>(
                                     vae_config_from_json(file.config_section("stage1")),
                                     second_stage_config_from_json(file.config_section("stage2"))),
                                 device);
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

GlobalVaeLoss average_over_ranks(const Distributed& dist, vae::VaeLoss& loss) {
  std::vector<double> reduced = {to_device(loss.total, Device::cpu()).item<double>(), loss.sse,
                                 loss.kl, interrupt_requested() ? 1.0 : 0.0};
  dist.average(reduced);
  loss.sse = reduced[1];
  loss.kl = reduced[2];
  return {reduced[0], reduced[3] > 0};
}

}  // namespace kite::apps
