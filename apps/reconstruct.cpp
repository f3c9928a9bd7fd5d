// reconstruct: test images next to their reconstructions by a trained autoencoder, as one PNG
// grid (each original immediately followed by its reconstruction), and the test-set MSE.
//
//   reconstruct --checkpoint runs/ae/last.safetensors --out runs/ae/reconstructions.png
//
// Prints the MSE per pixel (raw and with reconstructions clipped to [0, 1]) and the squared
// error summed over an image's pixels (the paper's figure); --metrics FILE also writes them
// as JSON.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "apps/common/autoencoder_io.h"
#include "apps/common/main.h"
#include "apps/common/metrics_log.h"
#include "apps/common/training.h"
#include "data/image_grid.h"
#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/factory.h"
#include "ops/shape_ops.h"

int main(int argc, char** argv) {
  using namespace kite;
  CLI::App app{
      "Show test images beside their autoencoder reconstructions (PNG) and report the test MSE"};
  app.name("reconstruct");
  std::string checkpoint_path = "runs/ae/last.safetensors";
  std::string out_path, metrics_path;
  std::string device_text = "cpu";
  int threads = 0;
  int64_t count = 32, pairs_per_row = 8, batch = 500;
  apps::DatasetFlags dataset_flags;
  app.add_option("--checkpoint", checkpoint_path, "A train_ae checkpoint")->capture_default_str();
  app.add_option("--out", out_path,
                 "Output PNG (default: reconstructions.png next to the checkpoint)");
  app.add_option("--count", count, "Test images shown")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--pairs-per-row", pairs_per_row, "Image/reconstruction pairs per grid row")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--metrics", metrics_path, "Also write the test MSE figures as JSON to this file");
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
    const apps::Datasets sets =
        apps::load_datasets(apps::override_dataset_flags(app, stored, dataset_flags));
    const data::ImageSet& test = *sets.test;
    if (out_path.empty())
      out_path =
          (std::filesystem::path(checkpoint_path).parent_path() / "reconstructions.png").string();

    // The grid: original, reconstruction, original, reconstruction, ...
    const int64_t shown = std::min(count, test.n);
    Tensor originals = data::images_to_tensor(test, 0, shown);
    Tensor reconstructions;
    {
      NoGradGuard no_grad;
      reconstructions =
          contiguous(to_device(loaded.model->forward(to_device(originals, device)), Device::cpu()));
    }
    const int64_t image_floats = test.image_bytes();
    std::vector<float> grid(static_cast<size_t>(2 * shown * image_floats));
    for (int64_t i = 0; i < shown; ++i) {
      std::memcpy(grid.data() + (2 * i) * image_floats,
                  originals.data_ptr<float>() + i * image_floats, image_floats * sizeof(float));
      std::memcpy(grid.data() + (2 * i + 1) * image_floats,
                  reconstructions.data_ptr<float>() + i * image_floats,
                  image_floats * sizeof(float));
    }
    data::write_image_grid(out_path, grid.data(), 2 * shown, test.c, test.h, test.w,
                           2 * pairs_per_row, 2, 0.5f);

    const apps::ReconstructionError error =
        apps::reconstruction_error(*loaded.model, test, batch, device);
    std::printf("test images        %lld\n", static_cast<long long>(error.images));
    std::printf("MSE per pixel      %.6f (clipped to [0,1]: %.6f)\n", error.mse, error.mse_clipped);
    std::printf("SSE per image      %.4f (clipped to [0,1]: %.4f)\n", error.sse_per_image,
                error.sse_per_image_clipped);
    std::printf("grid               %s (%lld pairs: original, reconstruction)\n", out_path.c_str(),
                static_cast<long long>(shown));
    if (!metrics_path.empty())
      apps::write_json_file(metrics_path,
                            {{"test_images", error.images},
                             {"test_mse", error.mse},
                             {"test_mse_clipped", error.mse_clipped},
                             {"test_sse_per_image", error.sse_per_image},
                             {"test_sse_per_image_clipped", error.sse_per_image_clipped},
                             {"checkpoint", checkpoint_path},
                             {"grid", out_path}});
    return 0;
  });
}
