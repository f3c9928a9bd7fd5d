// encode: runs a trained autoencoder's encoder over the training and test sets and writes the
// latent codes to one safetensors file, the input of stage 2 (train_flow):
//
//   codes_train   float32 [N_train, latent]
//   codes_test    float32 [N_test, latent]
//   labels_train  int64 [N_train]   (when the data set has labels)
//   labels_test   int64 [N_test]
//   metadata: format = "kite-codes", checkpoint, latent_dim, dataset (JSON), config (the
//             autoencoder run's configuration JSON)
//
// The data set defaults to the one the autoencoder was trained on (from its checkpoint).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "apps/common/autoencoder_io.h"
#include "apps/common/main.h"
#include "apps/common/training.h"
#include "engine/checkpoint.h"
#include "engine/error.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

namespace {

using namespace kite;

Tensor labels_tensor(const data::ImageSet& set) {
  return Tensor::from_vector<int64_t>(set.labels, {static_cast<int64_t>(set.labels.size())});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Encode the training and test sets with a trained autoencoder (input of train_flow)"};
  app.name("encode");
  std::string checkpoint_path = "runs/ae/last.safetensors";
  std::string out_path;
  std::string device_text = "cpu";
  int threads = 0;
  int64_t batch = 500;
  apps::DatasetFlags dataset_flags;
  app.add_option("--checkpoint", checkpoint_path, "A train_ae checkpoint")->capture_default_str();
  app.add_option("--out", out_path,
                 "Output file (default: codes.safetensors next to the checkpoint)");
  apps::add_device_flag(app, device_text);
  app.add_option("--threads", threads, "CPU threads (0: OpenMP's default)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--batch", batch, "Images per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  apps::add_dataset_flags(app, dataset_flags);

  return apps::run_main(app, argc, argv, [&] {
    apps::configure_threads(threads);
    const Device device = apps::resolve_device(device_text);
    apps::LoadedAutoencoder loaded = apps::load_autoencoder(checkpoint_path, device);
    const nlohmann::json& config = loaded.checkpoint.state.config;
    const apps::DatasetFlags stored = config.contains("dataset")
                                          ? apps::DatasetFlags::from_json(config["dataset"])
                                          : apps::DatasetFlags{};
    const apps::DatasetFlags chosen = apps::override_dataset_flags(app, stored, dataset_flags);
    const apps::Datasets sets = apps::load_datasets(chosen);
    if (out_path.empty())
      out_path =
          (std::filesystem::path(checkpoint_path).parent_path() / "codes.safetensors").string();

    Checkpoint codes;
    codes.tensors["codes_train"] = apps::encode_images(*loaded.model, *sets.train, batch, device);
    codes.tensors["codes_test"] = apps::encode_images(*loaded.model, *sets.test, batch, device);
    if (!sets.train->labels.empty()) codes.tensors["labels_train"] = labels_tensor(*sets.train);
    if (!sets.test->labels.empty()) codes.tensors["labels_test"] = labels_tensor(*sets.test);
    codes.metadata["format"] = "kite-codes";
    codes.metadata["checkpoint"] = checkpoint_path;
    codes.metadata["latent_dim"] = std::to_string(loaded.model->config().latent_dim);
    codes.metadata["dataset"] = chosen.to_json().dump();
    codes.metadata["config"] = config.dump();
    save_checkpoint(out_path, codes);

    // A one-line look at the codes: the spread of the per-dimension standard deviations.
    const Tensor& train_codes = codes.tensors["codes_train"];
    std::vector<double> stds = to_double_vector(kite::sqrt(var(train_codes, {0})));
    const auto [lo, hi] = std::minmax_element(stds.begin(), stds.end());
    std::fprintf(stderr,
                 "encode: %lld train and %lld test codes of size %lld (per-dimension std %.3g to "
                 "%.3g) -> %s\n",
                 static_cast<long long>(sets.train->n), static_cast<long long>(sets.test->n),
                 static_cast<long long>(loaded.model->config().latent_dim), *lo, *hi,
                 out_path.c_str());
    return 0;
  });
}
