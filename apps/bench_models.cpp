// bench_models: milliseconds per training step of the two stages of the decoupled VAE, and
// the memory they need, for comparison with the same models in PyTorch
// (apps/bench/compare_models.py runs both and prints the ratio).
//
//   stage 1: the autoencoder (default: the authors' 28x28 model, channels 64,128, latent 32),
//            batch 64 of random images, MSE loss, backward, Adam step;
//   stage 2: the i-ResNet flow (default 10 blocks, 32-d, hidden 128, ELU, c 0.9) on a batch
//            of 256 random codes, exact log-determinant NLL, backward, gradient clipping,
//            Adam step (spectral normalisation's power iteration runs in every forward).
//
// Each stage runs --warmup steps, then --steps timed steps; the median and best step are
// printed with wall and process CPU time, and the CPU allocator's peak bytes and the process's
// peak resident memory after the stage. --json FILE writes the figures.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/common/main.h"
#include "apps/common/training.h"
#include "engine/backend.h"
#include "engine/cpu_allocator.h"
#include "engine/error.h"
#include "models/ae/autoencoder.h"
#include "models/flow/iresnet.h"
#include "models/optim/adam.h"
#include "ops/ops.h"

namespace {

using namespace kite;

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Timing {
  double median_ms = 0, best_ms = 0, median_cpu_ms = 0;
};

Timing time_steps(int warmup, int steps, Device device, const std::function<void()>& step) {
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> wall, cpu;
  for (int i = 0; i < steps; ++i) {
    backend_for(device.type).synchronize(device.index);
    const double c0 = process_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    step();
    backend_for(device.type).synchronize(device.index);
    wall.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    cpu.push_back(1e3 * (process_cpu_seconds() - c0));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  return {median(wall), *std::min_element(wall.begin(), wall.end()), median(cpu)};
}

nlohmann::json report(const char* stage, const Timing& t) {
  const CpuAllocatorStats s = cpu_allocator_stats();
  const double peak_alloc = static_cast<double>(s.peak_bytes) / (1 << 20);
  const double rss = apps::peak_rss_mib();
  std::printf(
      "%-8s median %8.1f ms  best %8.1f ms  (CPU %8.1f ms)  allocator peak %7.1f MiB  "
      "peak RSS %7.1f MiB\n",
      stage, t.median_ms, t.best_ms, t.median_cpu_ms, peak_alloc, rss);
  std::fflush(stdout);
  return {{"median_ms", t.median_ms},
          {"best_ms", t.best_ms},
          {"median_cpu_ms", t.median_cpu_ms},
          {"allocator_peak_mib", peak_alloc},
          {"peak_rss_mib", rss}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Milliseconds per training step of the autoencoder (stage 1) and the flow (stage 2)"};
  std::string device_text = "cpu", only, json_path;
  int threads = 0, warmup = 2, steps = 10;
  int64_t ae_batch = 64, flow_batch = 256, dim = 32, hidden = 128;
  int blocks = 10;
  apps::add_device_flag(app, device_text);
  app.add_option("--threads", threads, "CPU threads (0: OpenMP's default)")->capture_default_str();
  app.add_option("--only", only, "Run one stage: ae or flow")->check(CLI::IsMember({"ae", "flow"}));
  app.add_option("--warmup", warmup, "Untimed steps first")->capture_default_str();
  app.add_option("--steps", steps, "Timed steps")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--ae-batch", ae_batch, "Stage-1 batch")->capture_default_str();
  app.add_option("--flow-batch", flow_batch, "Stage-2 batch")->capture_default_str();
  app.add_option("--dim", dim, "Flow dimension (latent size)")->capture_default_str();
  app.add_option("--blocks", blocks, "Flow blocks")->capture_default_str();
  app.add_option("--hidden", hidden, "Flow hidden width")->capture_default_str();
  app.add_option("--json", json_path, "Also write the figures to this JSON file");
  return apps::run_main(app, argc, argv, [&] {
    const Device device = apps::resolve_device(device_text);
    const int used = apps::configure_threads(threads);
    std::printf("bench_models: %s, %d thread(s), %d warm-up + %d timed steps\n",
                device.str().c_str(), used, warmup, steps);
    nlohmann::json out = {{"device", device.str()}, {"threads", used}};
    Generator generator(1234);

    if (only.empty() || only == "ae") {
      ae::AutoencoderConfig config;
      ae::Autoencoder model(config, DType::Float32, &generator);
      model.to(device);
      model.train();
      optim::Adam optimizer(model.parameters(), AdamParams{.lr = 2e-4});
      Tensor x =
          to_device(rand({ae_batch, 1, 28, 28}, DType::Float32, Device::cpu(), &generator), device);
      cpu_reset_peak_bytes();
      const Timing t = time_steps(warmup, steps, device, [&] {
        optimizer.zero_grad();
        Tensor loss = mse_loss(model.forward(x), x);
        loss.backward();
        optimizer.step();
      });
      std::printf("stage 1: autoencoder %s, batch %lld, %lld parameters\n",
                  config.describe().c_str(), static_cast<long long>(ae_batch),
                  static_cast<long long>(model.num_parameters()));
      out["ae"] = report("ae", t);
    }
    if (only.empty() || only == "flow") {
      flow::IResNetConfig config;
      config.dim = dim;
      config.blocks = blocks;
      config.hidden = hidden;
      flow::IResNet model(config, DType::Float32, &generator);
      model.to(device);
      Tensor x =
          to_device(randn({flow_batch, dim}, DType::Float32, Device::cpu(), &generator), device);
      {
        NoGradGuard no_grad;
        model.forward(x);  // ActNorm's data-dependent initialisation
      }
      model.train();
      optim::Adam optimizer(model.parameters(), AdamParams{.lr = 1e-4});
      cpu_reset_peak_bytes();
      const Timing t = time_steps(warmup, steps, device, [&] {
        optimizer.zero_grad();
        Tensor loss = model.nll_per_dim(x);
        loss.backward();
        std::vector<Tensor> grads;
        for (auto& p : model.parameters())
          if (p.grad().defined()) grads.push_back(p.grad());
        clip_grad_norm_(grads, 10.0);
        optimizer.step();
      });
      std::printf("stage 2: i-ResNet %d blocks, dim %lld, hidden %lld, batch %lld, exact log-det\n",
                  blocks, static_cast<long long>(dim), static_cast<long long>(hidden),
                  static_cast<long long>(flow_batch));
      out["flow"] = report("flow", t);
    }
    if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
    return 0;
  });
}
