// sample: generation with the decoupled VAE. z ~ N(0, T^2 I) -> invert the flow -> undo the
// code standardisation -> decode with the stage-1 autoencoder.
//
//   sample --ae runs/ae/last.safetensors --flow runs/flow/best.safetensors --out samples.png
//   sample ... --count 10000 --format folder --out runs/samples   (one PNG each, for FID tools)
//
// --prior gaussian|normal replace the flow with a full Gaussian fitted to the same codes
// (stored nowhere: fitted from --codes) or with N(0, I) on the standardised codes.
#include <cstdio>
#include <filesystem>

#include "apps/common/autoencoder_io.h"
#include "apps/common/flow_io.h"
#include "apps/common/main.h"
#include "apps/common/progress.h"
#include "data/image_grid.h"
#include "data/png_writer.h"
#include "engine/autograd.h"
#include "ops/ops.h"

int main(int argc, char** argv) {
  using namespace kite;
  CLI::App app{"Generate images with the decoupled VAE (flow prior + autoencoder decoder)"};
  app.name("sample");
  std::string ae_path = "runs/ae/last.safetensors", flow_path = "runs/flow/best.safetensors";
  std::string out, format = "png", device_text = "cpu";
  int64_t count = 64, columns = 8, batch = 500;
  double temperature = 1.0;
  uint64_t seed = 0;
  int threads = 0;
  app.add_option("--ae", ae_path, "A train_ae checkpoint")->capture_default_str();
  app.add_option("--flow", flow_path, "A train_flow checkpoint")->capture_default_str();
  app.add_option("--out", out,
                 "Output PNG grid, or folder with --format folder (default: samples.png)");
  app.add_option("--format", format, "png (one grid) or folder (one PNG per sample)")
      ->check(CLI::IsMember({"png", "folder"}));
  app.add_option("--count", count, "Number of samples")->check(CLI::PositiveNumber);
  app.add_option("--columns", columns, "Grid columns")->check(CLI::PositiveNumber);
  app.add_option("--temperature", temperature,
                 "Scale of the base samples (1 = the model's density)");
  app.add_option("--seed", seed, "Random seed");
  app.add_option("--batch", batch, "Samples per decoding pass")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "CPU threads (0: OpenMP's default)");
  apps::add_device_flag(app, device_text);

  return apps::run_main(app, argc, argv, [&] {
    apps::configure_threads(threads);
    const Device device = apps::resolve_device(device_text);
    apps::LoadedAutoencoder ae = apps::load_autoencoder(ae_path, device);
    apps::LoadedFlow flow = apps::load_flow(flow_path, device);
    const auto& ae_config = ae.model->config();
    KITE_CHECK(flow.model->config().dim == ae_config.latent_dim,
               "sample: the flow models " << flow.model->config().dim
                                          << "-d codes but the autoencoder's are "
                                          << ae_config.latent_dim << "-d");
    if (out.empty()) out = format == "png" ? "samples.png" : "samples";
    Generator generator(seed);
    NoGradGuard no_grad;
    const int64_t c = ae_config.image_channels, h = ae_config.image_size, w = ae_config.image_size;
    std::vector<float> images;
    flow::InverseStats stats;
    apps::ProgressBar bar("sampling", count, "img");
    for (int64_t done = 0; done < count; done += batch) {
      const int64_t n = std::min(batch, count - done);
      Tensor codes =
          flow.standardizer.inverse(flow.model->sample(n, &generator, temperature, {}, &stats));
      Tensor x = contiguous(
          to_dtype(to_device(clamp(ae.model->decode(to_dtype(codes, DType::Float32)), 0.0, 1.0),
                             Device::cpu()),
                   DType::Float32));
      images.insert(images.end(), x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
      bar.update(n);
    }
    bar.finish();
    if (format == "png") {
      data::write_image_grid(out, images.data(), count, c, h, w, columns, 2, 0.5f);
    } else {
      std::filesystem::create_directories(out);
      std::vector<uint8_t> pixels(c * h * w);
      for (int64_t i = 0; i < count; ++i) {
        for (int64_t k = 0; k < c * h * w; ++k)
          pixels[k] = static_cast<uint8_t>(images[i * c * h * w + k] * 255.0f + 0.5f);
        char name[32];
        std::snprintf(name, sizeof name, "/%06lld.png", static_cast<long long>(i));
        data::write_png(out + name, c, h, w, pixels.data());
      }
    }
    std::printf("wrote %lld samples to %s (temperature %.2f; flow inverse: <= %d iterations)\n",
                static_cast<long long>(count), out.c_str(), temperature, stats.iterations);
    return 0;
  });
}
