// bench_conv: time of the convolution layers of the paper's 28x28 autoencoder (and a few
// other spatial ops) on the CPU or a GPU, forward alone and forward + backward, in ms and
// GFLOP/s. On a GPU each call is timed with CUDA events on kite's stream
// (apps/common/device_timer.h), so the time is the device's, launches included.
//
// Layers (batch 64 by default, float32): every distinct conv of the 28x28 autoencoder with
// channels (64, 128) (encoder conv5x5 1->64, residual blocks of 3x3 convs and 1x1 "expand"
// convs at 14x14 and 7x7, decoder blocks at 7x7, 14x14 and 28x28, the final conv5x5 64->1),
// each with the number of times it occurs in the network; a 3x3 128->128 conv at 64x64
// (batch 8); and batch norm, group norm, layer norm, average pooling, max pooling and
// nearest upsampling at autoencoder sizes. The "AE conv stack" row adds count x time over the
// autoencoder's convs.
//
// Forward+backward computes the gradients of the weight and (except for the first layer,
// whose input is data) of the input, from a fixed random incoming gradient. FLOPs count
// 2 multiply-adds per weight tap: forward 2 N O OH OW C KH KW / groups; the backward adds the
// same again per gradient.
//
// With --json FILE the layer list and the timings are written as JSON, which
// apps/bench/compare_pytorch.py reads to time the same layers in PyTorch and print the ratio
// (on the same device: it passes --device along).
//
// Usage: bench_conv [--batch 64] [--repeats 7] [--threads N] [--only substring] [--json FILE]
//                   [--stat median|best] [--clock wall|cpu] [--list] [--device cpu|cuda[:N]]
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/common/device_timer.h"
#include "apps/common/main.h"
#include "apps/common/training.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/conv.h"
#include "ops/cpu/conv.h"
#include "ops/cpu/gemm.h"
#include "ops/factory.h"
#include "ops/norm.h"
#include "ops/pool.h"
#include "ops/upsample.h"

namespace {

using kite::Tensor;

struct Layer {
  std::string name;
  std::string kind;   // conv2d, batch_norm, avg_pool2d, max_pool2d, upsample_nearest2d
  kite::Shape input;  // [N, C, H, W] ([rows, D] for layer norm)
  int64_t out_channels = 0, kernel = 1, stride = 1, padding = 0;  // kernel: groups of group norm
  int count = 1;           // occurrences in the autoencoder (0: not part of it)
  bool input_grad = true;  // whether backward computes the input's gradient
};

std::vector<Layer> layers(int64_t batch) {
  const int64_t n = batch;
  return {
      {"enc conv5x5 1->64 @28", "conv2d", {n, 1, 28, 28}, 64, 5, 1, 2, 1, false},
      {"enc res conv3x3 64->128 @14", "conv2d", {n, 64, 14, 14}, 128, 3, 1, 1, 1},
      {"enc res conv3x3 128->128 @14", "conv2d", {n, 128, 14, 14}, 128, 3, 1, 1, 1},
      {"enc res expand1x1 64->128 @14", "conv2d", {n, 64, 14, 14}, 128, 1, 1, 0, 1},
      {"enc/dec res conv3x3 128->128 @7", "conv2d", {n, 128, 7, 7}, 128, 3, 1, 1, 4},
      {"dec res conv3x3 128->64 @14", "conv2d", {n, 128, 14, 14}, 64, 3, 1, 1, 1},
      {"dec res conv3x3 64->64 @14", "conv2d", {n, 64, 14, 14}, 64, 3, 1, 1, 1},
      {"dec res expand1x1 128->64 @14", "conv2d", {n, 128, 14, 14}, 64, 1, 1, 0, 1},
      {"dec res conv3x3 64->64 @28", "conv2d", {n, 64, 28, 28}, 64, 3, 1, 1, 2},
      {"dec conv5x5 64->1 @28 (bias)", "conv2d", {n, 64, 28, 28}, 1, 5, 1, 2, 1},
      {"conv3x3 128->128 @64 (batch 8)", "conv2d", {8, 128, 64, 64}, 128, 3, 1, 1, 0},
      {"batch_norm train 128 @14", "batch_norm", {n, 128, 14, 14}, 0, 0, 0, 0, 0},
      {"batch_norm train 64 @28", "batch_norm", {n, 64, 28, 28}, 0, 0, 0, 0, 0},
      {"group_norm 32 groups 128 @14", "group_norm", {n, 128, 14, 14}, 0, 32, 0, 0, 0},
      {"layer_norm 256 x 4096 rows", "layer_norm", {4096, 256}, 0, 0, 0, 0, 0},
      {"avg_pool2d 2x2 64 @28", "avg_pool2d", {n, 64, 28, 28}, 0, 2, 2, 0, 0},
      {"max_pool2d 3x3 s2 64 @28", "max_pool2d", {n, 64, 28, 28}, 0, 3, 2, 1, 0},
      {"upsample_nearest2d x2 128 @7", "upsample_nearest2d", {n, 128, 7, 7}, 0, 2, 0, 0, 0},
  };
}

double conv_flops(const Layer& l) {
  const int64_t oh = (l.input[2] + 2 * l.padding - l.kernel) / l.stride + 1;
  const int64_t ow = (l.input[3] + 2 * l.padding - l.kernel) / l.stride + 1;
  return 2.0 * double(l.input[0]) * double(l.out_channels) * double(oh * ow) *
         double(l.input[1] * l.kernel * l.kernel);
}

// Builds the op of a layer on given inputs: the same call for the forward and the backward.
std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)> op_of(const Layer& l) {
  if (l.kind == "conv2d") {
    const kite::Conv2dOptions o{.stride = l.stride, .padding = l.padding};
    return
        [o](const Tensor& x, const Tensor& w, const Tensor& b) { return kite::conv2d(x, w, b, o); };
  }
  if (l.kind == "batch_norm") {
    return [](const Tensor& x, const Tensor& w, const Tensor& b) {
      return kite::batch_norm(x, w, b, {}, {}, true);
    };
  }
  if (l.kind == "group_norm") {
    const int64_t groups = l.kernel;
    return [groups](const Tensor& x, const Tensor& w, const Tensor& b) {
      return kite::group_norm(x, groups, w, b);
    };
  }
  if (l.kind == "layer_norm") {
    return [](const Tensor& x, const Tensor& w, const Tensor& b) {
      return kite::layer_norm(x, {x.size(-1)}, w, b);
    };
  }
  if (l.kind == "avg_pool2d") {
    const kite::AvgPool2dOptions o{.kernel = l.kernel, .stride = l.stride, .padding = l.padding};
    return [o](const Tensor& x, const Tensor&, const Tensor&) { return kite::avg_pool2d(x, o); };
  }
  if (l.kind == "max_pool2d") {
    const kite::MaxPool2dOptions o{.kernel = l.kernel, .stride = l.stride, .padding = l.padding};
    return [o](const Tensor& x, const Tensor&, const Tensor&) { return kite::max_pool2d(x, o); };
  }
  if (l.kind == "upsample_nearest2d") {
    const int64_t scale = l.kernel;
    return [scale](const Tensor& x, const Tensor&, const Tensor&) {
      return kite::upsample_nearest2d(x, scale);
    };
  }
  KITE_FAIL("bench_conv: unknown layer kind " << l.kind);
}

// Process CPU time (all threads) in ms: on a machine shared with other work, wall time
// measures the scheduler as much as the code, CPU time does not (with one thread it is the
// time the code would take alone, up to cache effects).
double cpu_clock_ms() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
}

bool use_cpu_clock = false;  // --clock cpu (CPU only)

// Milliseconds of fn: the median (or best) of `repeats` timed calls after one warm-up call.
// The wall clock on the CPU and CUDA events on a GPU (DeviceTimer), or the process CPU time.
double time_ms(const std::function<void()>& fn, int repeats, bool best, kite::Device device) {
  fn();
  kite::apps::DeviceTimer timer(device);
  std::vector<double> ms;
  for (int r = 0; r < repeats; ++r) {
    if (use_cpu_clock) {
      const double start = cpu_clock_ms();
      fn();
      ms.push_back(cpu_clock_ms() - start);
    } else {
      timer.start();
      fn();
      ms.push_back(timer.stop_ms());
    }
  }
  std::sort(ms.begin(), ms.end());
  return best ? ms.front() : ms[ms.size() / 2];
}

struct Timing {
  double forward_ms = 0, train_ms = 0;  // train: forward + backward
};

Timing time_layer(const Layer& l, int repeats, bool best, kite::Device device) {
  // Drawn on the CPU and moved, so that every device times the same numbers.
  kite::Generator gen(1);
  const auto random = [&](const kite::Shape& shape) {
    return kite::to_device(kite::randn(shape, kite::DType::Float32, kite::Device::cpu(), &gen),
                           device);
  };
  const Tensor x = random(l.input);
  Tensor w, b;
  if (l.kind == "conv2d") {
    w = random({l.out_channels, l.input[1], l.kernel, l.kernel});
    if (l.out_channels == 1) b = random({1});
  } else if (l.kind == "batch_norm" || l.kind == "group_norm" || l.kind == "layer_norm") {
    const int64_t c = l.kind == "layer_norm" ? l.input.back() : l.input[1];
    w = random({c});
    b = random({c});
  }
  const auto op = op_of(l);
  Timing t;
  {
    kite::NoGradGuard no_grad;
    t.forward_ms = time_ms([&] { op(x, w, b); }, repeats, best, device);
  }
  const Tensor xg = x.detach().set_requires_grad(l.input_grad);
  const Tensor wg = w.defined() ? w.detach().set_requires_grad(true) : Tensor();
  const Tensor bg = b.defined() ? b.detach().set_requires_grad(true) : Tensor();
  Tensor grad_out;
  {
    kite::NoGradGuard no_grad;
    grad_out = random(op(x, w, b).shape());
  }
  t.train_ms = time_ms(
      [&] {
        std::vector<Tensor> params;
        for (const Tensor& p : {xg, wg, bg})
          if (p.defined() && p.requires_grad()) params.push_back(p);
        const Tensor y = op(xg, wg, bg);
        kite::autograd::grad({y}, params, {grad_out});
      },
      repeats, best, device);
  return t;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_conv: time of the autoencoder's conv layers and other spatial ops"};
  int64_t batch = 64;
  int repeats = 7;
  int threads = 0;
  std::string only, json_path, stat = "median";
  app.add_option("--batch", batch, "batch size of the autoencoder layers")
      ->check(CLI::PositiveNumber);
  app.add_option("--repeats", repeats, "timed calls per layer")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "OpenMP threads (default: all)");
  app.add_option("--only", only, "run only layers whose name contains this text");
  app.add_option("--stat", stat, "median or best of the timed calls")
      ->check(CLI::IsMember({"median", "best"}));
  app.add_option("--json", json_path, "also write the layers and timings to this JSON file");
  std::string clock = "wall";
  app.add_option("--clock", clock, "wall time, or process CPU time of all threads")
      ->check(CLI::IsMember({"wall", "cpu"}));
  bool list_only = false;
  app.add_flag("--list", list_only, "time nothing: only write the layer list (with --json)");
  std::string device_text = "cpu";
  kite::apps::add_device_flag(app, device_text);
  return kite::apps::run_main(app, argc, argv, [&] {
    const kite::Device device = kite::apps::resolve_device(device_text);
    KITE_CHECK(
        device.is_cpu() || clock == "wall",
        "bench_conv: --clock cpu times the host's CPU; on " << device.str() << " use --clock wall");
    const int used_threads = kite::apps::configure_threads(threads);
    use_cpu_clock = clock == "cpu";
    if (device.is_cpu())
      std::printf(
          "bench_conv: cpu, batch %lld, float32, %d threads, gemm kernel %s, %s of %d "
          "calls, %s time\n\n",
          static_cast<long long>(batch), used_threads, kite::cpu::gemm_kernel_name<float>(),
          stat.c_str(), repeats, clock.c_str());
    else
      std::printf("bench_conv: %s, batch %lld, float32, %s of %d calls, CUDA events\n\n",
                  device.str().c_str(), static_cast<long long>(batch), stat.c_str(), repeats);
    std::printf(
        "| layer | input | fwd ms | fwd GFLOP/s | fwd+bwd ms | fwd+bwd GFLOP/s | count |\n");
    std::printf("|---|---|---:|---:|---:|---:|---:|\n");
    nlohmann::json out = nlohmann::json::array();
    double stack_forward = 0, stack_train = 0, stack_flops_f = 0, stack_flops_t = 0;
    for (const Layer& l : layers(batch)) {
      if (!only.empty() && l.name.find(only) == std::string::npos) continue;
      const Timing t = list_only ? Timing{} : time_layer(l, repeats, stat == "best", device);
      std::string gf = "-", gt = "-";
      if (l.kind == "conv2d") {
        const double f = conv_flops(l), ft = f * (l.input_grad ? 3 : 2);
        gf = fmt("%.1f", f / t.forward_ms / 1e6);
        gt = fmt("%.1f", ft / t.train_ms / 1e6);
        stack_forward += l.count * t.forward_ms;
        stack_train += l.count * t.train_ms;
        stack_flops_f += l.count * f;
        stack_flops_t += l.count * ft;
      }
      std::printf("| %s | %s | %.2f | %s | %.2f | %s | %d |\n", l.name.c_str(),
                  kite::shape_str(l.input).c_str(), t.forward_ms, gf.c_str(), t.train_ms,
                  gt.c_str(), l.count);
      out.push_back({{"name", l.name},
                     {"kind", l.kind},
                     {"input", l.input},
                     {"out_channels", l.out_channels},
                     {"kernel", l.kernel},
                     {"stride", l.stride},
                     {"padding", l.padding},
                     {"count", l.count},
                     {"input_grad", l.input_grad},
                     {"bias", l.kind == "conv2d" && l.out_channels == 1},
                     {"forward_ms", t.forward_ms},
                     {"train_ms", t.train_ms}});
    }
    if (stack_train > 0)
      std::printf(
          "| **AE conv stack** (count x time) | batch %lld | %.2f | %.1f | %.2f | %.1f | |\n",
          static_cast<long long>(batch), stack_forward, stack_flops_f / stack_forward / 1e6,
          stack_train, stack_flops_t / stack_train / 1e6);
    if (device.is_cpu())
      std::printf("\nim2col workspace peak: %.2f MiB per thread (limit %.2f MiB)\n",
                  kite::cpu::conv_workspace_peak_bytes() / 1048576.0,
                  kite::cpu::kConvWorkspaceLimitBytes / 1048576.0);
    if (!json_path.empty()) {
      std::ofstream file(json_path);
      KITE_CHECK(file, "bench_conv: cannot write " << json_path);
      file << nlohmann::json{{"batch", batch}, {"threads", used_threads}, {"stat", stat},
                             {"clock", clock}, {"repeats", repeats},      {"device", device.str()},
                             {"layers", out}}
                  .dump(1)
           << "\n";
    }
    return 0;
  });
}
