// traverse: the paper's Fig. 6. Encode a test image, standardise its code, map it through the
// flow to z', set one coordinate of z' to a range of values, invert the flow, undo the
// standardisation and decode. One grid row per coordinate, one column per value.
//
//   traverse --ae runs/ae/last.safetensors --flow runs/flow/best.safetensors --out traversal.png
//
// Coordinates are chosen with --dims 0,5,7 or ranked automatically (--rows N): by how much the
// decoded image changes between the two ends of the range.
#include <algorithm>
#include <cstdio>
#include <numeric>

#include "apps/common/autoencoder_io.h"
#include "apps/common/flow_io.h"
#include "apps/common/main.h"
#include "data/image_grid.h"
#include "data/loader.h"
#include "engine/autograd.h"
#include "ops/ops.h"

using namespace kite;

namespace {

// Decoded images for z' rows (float32 CPU, clamped to [0, 1]).
Tensor decode_from_flow_space(apps::LoadedAutoencoder& ae, apps::LoadedFlow& flow,
                              const Tensor& z) {
  Tensor codes = flow.standardizer.inverse(flow.model->inverse(z));
  return contiguous(
      to_device(clamp(ae.model->decode(to_dtype(codes, DType::Float32)), 0.0, 1.0), Device::cpu()));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Latent traversals through the flow (the paper's Fig. 6) as a PNG grid"};
  app.name("traverse");
  std::string ae_path = "runs/ae/last.safetensors", flow_path = "runs/flow/best.safetensors";
  std::string out = "traversal.png", device_text = "cpu";
  std::vector<int64_t> dims;
  int64_t image_index = 0, rows = 8, steps = 9;
  double range = 2.5;
  int threads = 0;
  apps::DatasetFlags dataset_flags;
  app.add_option("--ae", ae_path, "A train_ae checkpoint")->capture_default_str();
  app.add_option("--flow", flow_path, "A train_flow checkpoint")->capture_default_str();
  app.add_option("--out", out, "Output PNG")->capture_default_str();
  app.add_option("--image", image_index, "Index of the test image to start from")
      ->capture_default_str();
  app.add_option("--dims", dims, "Coordinates of z' to vary (default: the --rows most visible)");
  app.add_option("--rows", rows, "Coordinates shown when ranking automatically")
      ->check(CLI::PositiveNumber);
  app.add_option("--steps", steps, "Values per coordinate")->check(CLI::Range(2, 64));
  app.add_option("--range", range, "Values run over [-range, range]")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "CPU threads (0: OpenMP's default)");
  apps::add_device_flag(app, device_text);
  apps::add_dataset_flags(app, dataset_flags);

  return apps::run_main(app, argc, argv, [&] {
    apps::configure_threads(threads);
    const Device device = apps::resolve_device(device_text);
    apps::LoadedAutoencoder ae = apps::load_autoencoder(ae_path, device);
    apps::LoadedFlow flow = apps::load_flow(flow_path, device);
    const int64_t d = flow.model->config().dim;
    KITE_CHECK(d == ae.model->config().latent_dim,
               "traverse: flow and autoencoder disagree on the code size");
    const nlohmann::json& config = ae.checkpoint.state.config;
    const apps::DatasetFlags stored = config.contains("dataset")
                                          ? apps::DatasetFlags::from_json(config["dataset"])
                                          : apps::DatasetFlags{};
    const apps::Datasets sets =
        apps::load_datasets(apps::override_dataset_flags(app, stored, dataset_flags));
    KITE_CHECK(image_index >= 0 && image_index < sets.test->n,
               "traverse: --image " << image_index << " is outside the " << sets.test->n
                                    << " test images");
    for (int64_t k : dims)
      KITE_CHECK(k >= 0 && k < d, "traverse: --dims " << k << " is outside [0, " << d << ")");

    NoGradGuard no_grad;
    Tensor image = to_device(data::images_to_tensor(*sets.test, image_index, 1), device);
    Tensor code = to_dtype(ae.model->encode(image), flow.standardizer.mean.dtype());
    Tensor z = flow.model->forward(flow.standardizer.forward(code)).z;  // [1, d]
    std::vector<double> base = to_double_vector(z);

    auto with_values = [&](int64_t k, const std::vector<double>& values) {
      std::vector<double> rows_data;
      for (double v : values) {
        std::vector<double> row = base;
        row[k] = v;
        rows_data.insert(rows_data.end(), row.begin(), row.end());
      }
      Tensor t = Tensor::from_vector(rows_data, {static_cast<int64_t>(values.size()), d});
      return to_device(to_dtype(t, z.dtype()), device);
    };

    if (dims.empty()) {
      // Rank coordinates by the mean absolute change of the decoded image across the range.
      std::vector<std::pair<double, int64_t>> effect;
      for (int64_t k = 0; k < d; ++k) {
        Tensor ends = decode_from_flow_space(ae, flow, with_values(k, {-range, range}));
        double change = mean(abs(narrow(ends, 0, 0, 1) - narrow(ends, 0, 1, 1))).item<double>();
        effect.push_back({change, k});
      }
      std::sort(effect.rbegin(), effect.rend());
      for (int64_t i = 0; i < std::min(rows, d); ++i) dims.push_back(effect[i].second);
    }

    std::vector<double> values(steps);
    for (int64_t s = 0; s < steps; ++s) values[s] = -range + 2 * range * s / (steps - 1);
    const auto& c = ae.model->config();
    const int64_t image_floats = c.image_channels * c.image_size * c.image_size;
    std::vector<float> grid;
    for (int64_t k : dims) {
      Tensor decoded = decode_from_flow_space(ae, flow, with_values(k, values));
      grid.insert(grid.end(), decoded.data_ptr<float>(),
                  decoded.data_ptr<float>() + steps * image_floats);
    }
    data::write_image_grid(out, grid.data(), static_cast<int64_t>(dims.size()) * steps,
                           c.image_channels, c.image_size, c.image_size, steps, 2, 0.5f);
    std::printf("wrote %s: test image %lld, coordinates", out.c_str(),
                static_cast<long long>(image_index));
    for (int64_t k : dims) std::printf(" %lld", static_cast<long long>(k));
    std::printf(" of z', values in [%.2f, %.2f]\n", -range, range);
    return 0;
  });
}
