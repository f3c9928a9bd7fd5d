// bench_op_overhead: what an op costs the host, apart from its kernel's arithmetic.
//
// On a GPU the host only checks shapes, allocates the output and issues a launch; a small
// kernel then finishes before the next op is issued, and the op's host time is the step's
// time (bench_gemm's 256^3 rows are such a case). On the CPU the same host work comes before
// every kernel. Each op runs here on 2x2 float32 tensors, so that the kernel is negligible on
// the CPU and a launch on a GPU, and each row reports
//   ns/call:           host time per call: the fastest of several rounds of calls, each round
//                      issued after the device went idle and timed until the last call
//                      returns (so a GPU's launch queue never fills and the host never waits)
//   allocations/call:  heap allocations (operator new, apps/common/heap_counter.h) per call
// "recorded" rows run with an input that requires grad, so they include building the
// autograd node; the other rows record nothing, as in inference or optimizer steps. On a GPU
// a last row times cudaGetDevice alone: every op asks the runtime once which device is
// current (its DeviceGuard, cuda/device.h), and that row says what the question costs.
//
// Measuring the CUDA path's host side without a GPU: apps/bench/fake_cuda_runtime.cpp builds
// libkite_fake_cuda.so, a stand-in for the CUDA runtime and cuBLAS whose calls do nothing,
//   LD_PRELOAD=build/apps/libkite_fake_cuda.so build/apps/bench_op_overhead --device cuda
// (the header then names the device "fake"). The stand-in also counts the calls made to it,
// and two more columns appear:
//   runtime calls/call:   calls into the CUDA runtime and cuBLAS per op (a launch counts once)
//   device queries/call:  of those, the ones asking or changing the current device or asking
//                         a device attribute (cudaGetDevice and kin), which a real runtime
//                         answers in host time of its own
// With a real GPU the figures include the CUDA runtime's own launch cost.
//
// Usage: bench_op_overhead [--device cpu|cuda[:N]] [--calls 256] [--rounds 30]
#include <dlfcn.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "apps/common/device_timer.h"
#include "apps/common/heap_counter.h"
#include "apps/common/main.h"
#include "apps/common/training.h"
#include "ops/ops.h"

#if defined(KITE_WITH_CUDA)
#include "cuda/device.h"
#endif

namespace {

using kite::Tensor;

struct Row {
  std::string name;
  std::function<void()> call;
};

// The stand-in runtime's call counters (apps/bench/fake_cuda_runtime.cpp), when it is
// preloaded; null otherwise.
struct StandInCounters {
  using Counter = long (*)();
  Counter calls = reinterpret_cast<Counter>(dlsym(RTLD_DEFAULT, "kite_fake_cuda_calls"));
  Counter device_queries =
      reinterpret_cast<Counter>(dlsym(RTLD_DEFAULT, "kite_fake_cuda_device_queries"));
  bool found() const { return calls != nullptr && device_queries != nullptr; }
};

struct Figures {
  double ns_per_call;
  double allocations_per_call;
  double runtime_calls_per_call = 0, device_queries_per_call = 0;  // with the stand-in
};

Figures measure(const Row& row, kite::Device device, int calls, int rounds,
                const StandInCounters& stand_in) {
  for (int i = 0; i < calls; ++i) row.call();  // warm-up: caches, pools, cuBLAS's choices
  kite::apps::synchronize(device);
  double best_ns = 1e300;
  long allocations = 0, runtime_calls = 0, device_queries = 0;
  for (int round = 0; round < rounds; ++round) {
    const long before = kite::apps::heap_allocations();
    const long calls_before = stand_in.found() ? stand_in.calls() : 0;
    const long queries_before = stand_in.found() ? stand_in.device_queries() : 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) row.call();
    const std::chrono::duration<double, std::nano> elapsed =
        std::chrono::steady_clock::now() - start;
    allocations += kite::apps::heap_allocations() - before;
    if (stand_in.found()) {
      runtime_calls += stand_in.calls() - calls_before;
      device_queries += stand_in.device_queries() - queries_before;
    }
    best_ns = std::min(best_ns, elapsed.count() / calls);
    kite::apps::synchronize(device);  // not timed: the next round starts on an idle device
  }
  const double total = double(calls) * rounds;
  return {best_ns, double(allocations) / total, double(runtime_calls) / total,
          double(device_queries) / total};
}

std::string device_name(kite::Device device) {
#if defined(KITE_WITH_CUDA)
  if (device.is_cuda()) return kite::cuda::describe_device(device.index);
#endif
  return device.str();
}

int run(kite::Device device, int calls, int rounds) {
  kite::Generator generator(1);
  const auto random = [&](const kite::Shape& shape) {
    return kite::to_device(
        kite::randn(shape, kite::DType::Float32, kite::Device::cpu(), &generator), device);
  };
  const Tensor a = random({2, 2}), b = random({2, 2}), bias = random({2});
  Tensor w = b.detach();
  w.set_requires_grad(true);
  Tensor out;
  std::vector<Row> rows = {
      {"Tensor::empty",
       [&] {
         out = Tensor::empty({2, 2}, kite::DType::Float32, device);
       }},
      {"transpose (a view)", [&] { out = kite::transpose(a, 0, 1); }},
      {"add", [&] { out = kite::add(a, b); }},
      {"mul", [&] { out = kite::mul(a, b); }},
      {"relu", [&] { out = kite::relu(a); }},
      {"sum", [&] { out = kite::sum(a); }},
      {"matmul", [&] { out = kite::matmul(a, b); }},
      {"linear", [&] { out = kite::linear(a, b, bias); }},
      {"matmul, recorded", [&] { out = kite::matmul(a, w); }},
  };
#if defined(KITE_WITH_CUDA)
  // The runtime's answer to "which device is current" (cudaGetDevice, asked outside any
  // DeviceGuard), which each op on a GPU asks once: what that one call costs on this machine.
  int current = 0;
  if (device.is_cuda())
    rows.push_back({"cudaGetDevice alone", [&] { current += kite::cuda::current_device(); }});
#endif

  const StandInCounters stand_in;
  std::cout << "# bench_op_overhead on " << device_name(device) << "\n\n"
            << "- 2x2 float32 operands; ns/call: the fastest round of " << calls << " calls (of "
            << rounds << " rounds), host time until the last call returns\n"
            << "- allocations/call: heap allocations (operator new) per call\n";
  if (stand_in.found())
    std::cout << "- runtime calls/call: calls into the stand-in CUDA runtime and cuBLAS per "
                 "call (a launch counts once); device queries/call: those that ask or change "
                 "the current device or ask a device attribute\n\n"
              << "| op | ns/call | allocations/call | runtime calls/call | device queries/call "
                 "|\n|---|---|---|---|---|\n";
  else
    std::cout << "\n| op | ns/call | allocations/call |\n|---|---|---|\n";
  for (const Row& row : rows) {
    const Figures f = measure(row, device, calls, rounds, stand_in);
    char line[200];
    if (stand_in.found())
      std::snprintf(line, sizeof line, "| %s | %.0f | %.2f | %.2f | %.2f |\n", row.name.c_str(),
                    f.ns_per_call, f.allocations_per_call, f.runtime_calls_per_call,
                    f.device_queries_per_call);
    else
      std::snprintf(line, sizeof line, "| %s | %.0f | %.2f |\n", row.name.c_str(), f.ns_per_call,
                    f.allocations_per_call);
    std::cout << line << std::flush;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_op_overhead: host time and heap allocations per call of small ops"};
  std::string device_text = "cpu";
  int calls = 256, rounds = 30;
  kite::apps::add_device_flag(app, device_text);
  app.add_option("--calls", calls, "calls per timed round")->check(CLI::Range(1, 1 << 20));
  app.add_option("--rounds", rounds, "timed rounds (the fastest is reported)")
      ->check(CLI::Range(1, 10000));
  return kite::apps::run_main(
      app, argc, argv, [&] { return run(kite::apps::resolve_device(device_text), calls, rounds); });
}
