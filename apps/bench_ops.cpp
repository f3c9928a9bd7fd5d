// bench_ops: memory bandwidth of the elementwise kernels and sum, next to a plain copy.
//
// Elementwise ops on large tensors do almost no arithmetic per byte, so the yardstick is
// the memory system: an op is as fast as it can be when it moves its bytes as quickly as
// a copy moves the same number of bytes. Each row reports
//     GB/s = bytes moved / time,
// where "bytes moved" counts every element read or written once (float32, n elements):
//     copy n floats: 2 n 4  (read n, write n)
//     add, mul:      3 n 4  (read a and b, write out)
//     exp:           2 n 4  (read x, write out)
//     sum:           1 n 4  (read x; the 0-d output is negligible)
// and "% copy" divides by the copy's GB/s at the same size (and thread count), so like is
// compared with like: bytes per second through the memory system. (Write-allocate traffic,
// the read of a destination line before it is written, is not counted for either.)
//
// The copy is memcpy on the CPU (in one chunk per OpenMP thread) and cudaMemcpyAsync
// device to device on a GPU. Two rows per elementwise op: "kernel" calls the device's kernel
// through its dispatch stub into an output allocated once (what the loop itself achieves),
// "op" calls the public op, which allocates its output on every call (on the CPU the fresh
// pages cost a page fault each, the gap between the two rows; on a GPU the caching allocator
// hands back the block freed by the previous call).
//
// On a GPU each call is timed with CUDA events on kite's stream (apps/common/device_timer.h),
// and the end of the table checks the CUDA back end's targets at the largest size: add >= 80%
// and sum >= 70% of the copy's bandwidth.
//
// Usage: bench_ops [--sizes 1M,16M] [--threads 1,2] [--reps 20] [--device cpu|cuda[:N]]
//        sizes accept K (x1024) and M (x1024^2) suffixes; on a GPU the default sizes are
//        1M,16M,64M and --threads is ignored.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "apps/common/device_timer.h"
#include "apps/common/main.h"
#include "apps/common/training.h"
#include "engine/error.h"
#include "ops/elementwise.h"
#include "ops/elementwise_kernels.h"
#include "ops/factory.h"
#include "ops/reduce.h"

namespace {

using kite::Tensor;

int64_t parse_size(const std::string& text) {
  KITE_CHECK(!text.empty(), "bench_ops: empty size");
  int64_t scale = 1;
  std::string digits = text;
  const char suffix = text.back();
  if (suffix == 'K' || suffix == 'k') scale = 1024;
  if (suffix == 'M' || suffix == 'm') scale = 1024 * 1024;
  if (scale != 1) digits.pop_back();
  KITE_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos,
             "bench_ops: bad size '" << text << "': expected a count like 1000, 64K or 16M");
  return std::stoll(digits) * scale;
}

// memcpy in one chunk per OpenMP thread (a single memcpy uses one core).
void parallel_memcpy(float* dst, const float* src, int64_t n) {
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t begin = n * t / threads, end = n * (t + 1) / threads;
    std::memcpy(dst + begin, src + begin, (end - begin) * sizeof(float));
  }
}

struct Row {
  std::string name;
  std::string bytes_formula;
  double bytes;
  std::function<void()> call;
  double seconds = 1e30;  // fastest call
};

// `reps` rounds that each run every row in turn: an untimed call (it touches every page and
// brings the row's own data into cache, as a loop of calls of one op would), then a timed
// one; each row keeps its fastest. Interleaving the rows spreads a burst of load from other
// processes over all of them instead of one.
void time_rows(std::vector<Row>& rows, int reps, kite::Device device) {
  kite::apps::DeviceTimer timer(device);
  for (int r = 0; r < reps; ++r) {
    for (Row& row : rows) {
      row.call();
      timer.start();
      row.call();
      row.seconds = std::min(row.seconds, timer.stop_ms() * 1e-3);
    }
  }
}

// Prints the rows; returns each row's percentage of the first row's (the copy's) GB/s, by name.
std::map<std::string, double> print_rows(const std::vector<Row>& rows, int64_t n,
                                         const std::string& threads) {
  const double copy_gbs = rows.front().bytes / rows.front().seconds * 1e-9;
  std::map<std::string, double> percent;
  for (const Row& row : rows) {
    const double gbs = row.bytes / row.seconds * 1e-9;
    percent[row.name] = 100.0 * gbs / copy_gbs;
    char line[256];
    std::snprintf(line, sizeof(line), "| %s | %lld | %s | %s | %.3f | %.1f | %.0f%% |\n",
                  row.name.c_str(), static_cast<long long>(n), threads.c_str(),
                  row.bytes_formula.c_str(), row.seconds * 1e3, gbs, percent[row.name]);
    std::cout << line;
  }
  std::cout.flush();
  return percent;
}

// The rows of one size on `device` (a, b and out already there); the first row is the copy.
std::vector<Row> make_rows(const Tensor& a, const Tensor& b, const Tensor& out, int64_t n,
                           kite::Device device) {
  const double f = 4.0 * static_cast<double>(n);  // bytes per float32 pass
  const auto binary = kite::binary_stub.get(device);
  const auto unary = kite::unary_stub.get(device);
  Row copy =
      device.is_cpu()
          ? Row{"memcpy", "2n*4", 2 * f,
                [&a, &out, n] { parallel_memcpy(out.data_ptr<float>(), a.data_ptr<float>(), n); }}
          : Row{"copy (cudaMemcpyAsync)", "2n*4", 2 * f, [&a, &out, n, device] {
                  kite::apps::device_copy_async(out.data_ptr<float>(), a.data_ptr<float>(),
                                                n * sizeof(float), device);
                }};
  return {
      copy,
      {"add kernel", "3n*4", 3 * f, [=] { binary(kite::BinaryOp::Add, a, b, out); }},
      {"add op", "3n*4", 3 * f, [=] { kite::add(a, b); }},
      {"mul kernel", "3n*4", 3 * f, [=] { binary(kite::BinaryOp::Mul, a, b, out); }},
      {"mul op", "3n*4", 3 * f, [=] { kite::mul(a, b); }},
      {"exp kernel", "2n*4", 2 * f, [=] { unary(kite::UnaryOp::Exp, {}, a, out); }},
      {"exp op", "2n*4", 2 * f, [=] { kite::exp(a); }},
      {"sum op", "n*4", f, [=] { kite::sum(a); }},
  };
}

// A spot check that the timed kernels computed something sensible: out = a + b at one element.
void check_add(const Tensor& a, const Tensor& b, const Tensor& out, int64_t n,
               kite::Device device) {
  kite::binary_stub.get(device)(kite::BinaryOp::Add, a, b, out);
  const int64_t i = n / 3;
  const auto value = [i](const Tensor& t) {
    return kite::to_device(t, kite::Device::cpu()).data_ptr<float>()[i];
  };
  KITE_CHECK(value(out) == value(a) + value(b),
             "bench_ops: add kernel gave a wrong value at element " << i);
}

// Returns each row's percentage of the copy (see print_rows).
std::map<std::string, double> bench_size(int64_t n, int threads, int reps, kite::Device device) {
  if (device.is_cpu()) omp_set_num_threads(threads);
  kite::Generator generator(1);
  const auto on_device = [&](const Tensor& t) { return kite::to_device(t, device); };
  const Tensor a =
      on_device(kite::rand({n}, kite::DType::Float32, kite::Device::cpu(), &generator));
  const Tensor b =
      on_device(kite::rand({n}, kite::DType::Float32, kite::Device::cpu(), &generator));
  const Tensor out = Tensor::empty({n}, kite::DType::Float32, device);
  std::vector<Row> rows = make_rows(a, b, out, n, device);
  time_rows(rows, reps, device);
  check_add(a, b, out, n, device);
  return print_rows(rows, n, device.is_cpu() ? std::to_string(threads) : "-");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_ops: GB/s of add, mul, exp and sum (float32) next to a copy, CPU or GPU"};
  std::vector<std::string> sizes;
  std::vector<int> thread_counts{1, omp_get_num_procs()};
  int reps = 20;
  std::string device_text = "cpu";
  app.add_option("--sizes", sizes,
                 "element counts, comma separated (K and M suffixes; default 1M,16M on the CPU, "
                 "1M,16M,64M on a GPU)")
      ->delimiter(',');
  app.add_option("--threads", thread_counts, "OpenMP thread counts, comma separated (CPU only)")
      ->delimiter(',');
  app.add_option("--reps", reps, "timed calls per row (the fastest is reported)")
      ->check(CLI::PositiveNumber);
  kite::apps::add_device_flag(app, device_text);
  return kite::apps::run_main(app, argc, argv, [&] {
    const kite::Device device = kite::apps::resolve_device(device_text);
    if (sizes.empty())
      sizes = device.is_cpu() ? std::vector<std::string>{"1M", "16M"}
                              : std::vector<std::string>{"1M", "16M", "64M"};
    std::vector<int64_t> counts;
    for (const std::string& text : sizes) counts.push_back(parse_size(text));
    for (int t : thread_counts) KITE_CHECK(t >= 1, "bench_ops: --threads must be >= 1, got " << t);
    // Drop a repeated thread count (e.g. 1,1 on a one-core machine); a GPU has no thread count.
    thread_counts.erase(std::unique(thread_counts.begin(), thread_counts.end()),
                        thread_counts.end());
    if (device.is_cuda()) thread_counts = {1};
    std::cout << "# bench_ops (float32 on " << device.str() << ", fastest call of " << reps
              << " interleaved rounds" << (device.is_cuda() ? ", CUDA events" : "") << ")\n\n"
              << "GB/s = bytes moved / time; % copy = GB/s / the copy's GB/s at the same size"
              << (device.is_cpu() ? " and threads" : "") << ".\n\n"
              << "| op | elements | threads | bytes moved | ms | GB/s | % copy |\n"
              << "|---|---|---|---|---|---|---|\n";
    std::map<std::string, double> largest;
    for (int64_t n : counts)
      for (int threads : thread_counts) largest = bench_size(n, threads, reps, device);
    if (device.is_cuda() && !counts.empty()) {
      const double add = largest["add op"], sum = largest["sum op"];
      std::cout << "\ntargets at " << counts.back() << " elements: add op " << std::lround(add)
                << "% of the copy (target >= 80%: " << (add >= 80 ? "met" : "NOT met")
                << "), sum op " << std::lround(sum)
                << "% (target >= 70%: " << (sum >= 70 ? "met" : "NOT met") << ")\n";
    }
    return 0;
  });
}
