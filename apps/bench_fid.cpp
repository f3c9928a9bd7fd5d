// bench_fid: images per second of FID feature extraction (FID-Inception at 299 x 299) on the
// CPU or a GPU, with a per-layer breakdown; apps/bench/compare_fid_pytorch.py runs the same
// TorchScript archive in PyTorch for comparison (REFERENCES.md: 8.6 images/s at batch 16,
// 2 threads, on the 2-core development machine).
//
//   OMP_NUM_THREADS=2 build/apps/bench_fid --batch 50 --batches 2
//
// Uses the converted weights when present (timing does not depend on the values: every
// convolution is dense), placeholder weights otherwise.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "apps/common/main.h"
#include "apps/common/training.h"
#include "engine/autograd.h"
#include "models/inception/fid_inception.h"
#include "models/inception/preprocess.h"
#include "models/inception/weights.h"
#include "ops/ops.h"

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kite;
  CLI::App app{"Benchmark FID-Inception feature extraction"};
  app.name("bench_fid");
  int64_t batch = 50, batches = 2, image_size = 32;
  int threads = 0;
  std::string weights, device_text = "cpu";
  app.add_option("--batch", batch, "Images per forward pass")->capture_default_str();
  app.add_option("--batches", batches, "Timed batches (after one warm-up batch)")
      ->capture_default_str();
  app.add_option("--image-size", image_size, "Side of the RGB input images, resized to 299")
      ->capture_default_str();
  app.add_option("--threads", threads, "CPU threads (0: OpenMP's default)");
  app.add_option("--weights", weights, "Converted weights (default: the cache)");
  apps::add_device_flag(app, device_text);

  return apps::run_main(app, argc, argv, [&] {
    const int used_threads = apps::configure_threads(threads);
    const Device device = apps::resolve_device(device_text);
    inception::FidInceptionV3 model;
    const std::string path = weights.empty() ? inception::default_weights_path() : weights;
    if (std::filesystem::is_regular_file(path))
      inception::load_weights(model, path);
    else
      std::printf("(weights not found at %s: timing placeholder weights)\n", path.c_str());
    model.to(device);
    NoGradGuard no_grad;
    Generator generator(1);
    const Tensor images = to_device(to_dtype(rand({batch, 3, image_size, image_size},
                                                  DType::Float32, Device::cpu(), &generator) *
                                                 255.0,
                                             DType::UInt8),
                                    device);

    std::map<std::string, double> layer_seconds;
    std::vector<std::string> order;
    double preprocess_seconds = 0, total_seconds = 0, total_cpu = 0;
    for (int64_t i = 0; i <= batches; ++i) {
      const bool timed = i > 0;  // the first batch warms caches and workspaces
      const double t0 = now(), c0 = cpu_seconds();
      const Tensor x = inception::preprocess(images);
      const double t1 = now();
      double last = t1;
      const Tensor f = model.features_observed(x, [&](const std::string& name, const Tensor& a) {
        if (device.is_cuda()) (void)to_device(narrow(flatten(a), 0, 0, 1), Device::cpu());  // sync
        const double t = now();
        if (timed) {
          if (!layer_seconds.count(name)) order.push_back(name);
          layer_seconds[name] += t - last;
        }
        last = t;
      });
      (void)to_device(f, Device::cpu());
      if (timed) {
        preprocess_seconds += t1 - t0;
        total_seconds += now() - t0;
        total_cpu += cpu_seconds() - c0;
      }
    }
    const double images_done = static_cast<double>(batch * batches);
    std::printf("FID-Inception, %s, %d threads, batch %lld, %lldx%lld RGB inputs\n",
                device_text.c_str(), used_threads, static_cast<long long>(batch),
                static_cast<long long>(image_size), static_cast<long long>(image_size));
    std::printf("%-10s %9s %7s\n", "layer", "ms/img", "share");
    std::printf("%-10s %9.2f %6.1f%%\n", "preprocess", 1e3 * preprocess_seconds / images_done,
                100 * preprocess_seconds / total_seconds);
    for (const auto& name : order)
      std::printf("%-10s %9.2f %6.1f%%\n", name.c_str(), 1e3 * layer_seconds[name] / images_done,
                  100 * layer_seconds[name] / total_seconds);
    std::printf("images/s %.2f  (wall %.2f s for %.0f images; CPU %.2f s = %.3f CPU s/img)\n",
                images_done / total_seconds, total_seconds, images_done, total_cpu,
                total_cpu / images_done);
    return 0;
  });
}
