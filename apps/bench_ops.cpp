// bench_ops: memory bandwidth of the elementwise kernels and sum, next to memcpy.
//
// Elementwise ops on large tensors do almost no arithmetic per byte, so the yardstick is
// the memory system: an op is as fast as it can be when it moves its bytes as quickly as
// memcpy moves the same number of bytes. Each row reports
//     GB/s = bytes moved / time,
// where "bytes moved" counts every element read or written once (float32, n elements):
//     memcpy n floats: 2 n 4  (read n, write n)
//     add, mul:        3 n 4  (read a and b, write out)
//     exp:             2 n 4  (read x, write out)
//     sum:             1 n 4  (read x; the 0-d output is negligible)
// and "% memcpy" divides by memcpy's GB/s at the same size and thread count (memcpy's
// chunks spread over the same OpenMP threads), so like is compared with like: bytes per
// second through the memory system. (Write-allocate traffic, the read of a destination line
// before it is written, is not counted for either.)
//
// Two rows per elementwise op: "kernel" calls the CPU kernel through its dispatch stub into
// an output allocated once (what the loop itself achieves), "op" calls the public op, which
// allocates its output on every call; for large tensors the fresh pages cost a page fault
// each, the gap between the two rows.
//
// Usage: bench_ops [--sizes 1M,16M] [--threads 1,2] [--reps 20]
//        sizes accept K (x1024) and M (x1024^2) suffixes.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "apps/common/main.h"
#include "engine/error.h"
#include "ops/elementwise.h"
#include "ops/elementwise_kernels.h"
#include "ops/factory.h"
#include "ops/reduce.h"

namespace {

using Clock = std::chrono::steady_clock;
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
void time_rows(std::vector<Row>& rows, int reps) {
  for (int r = 0; r < reps; ++r) {
    for (Row& row : rows) {
      row.call();
      const auto t0 = Clock::now();
      row.call();
      row.seconds = std::min(row.seconds, std::chrono::duration<double>(Clock::now() - t0).count());
    }
  }
}

void print_rows(const std::vector<Row>& rows, int64_t n, int threads) {
  const double memcpy_gbs = rows.front().bytes / rows.front().seconds * 1e-9;
  for (const Row& row : rows) {
    const double gbs = row.bytes / row.seconds * 1e-9;
    char line[256];
    std::snprintf(line, sizeof(line), "| %s | %lld | %d | %s | %.3f | %.1f | %.0f%% |\n",
                  row.name.c_str(), static_cast<long long>(n), threads, row.bytes_formula.c_str(),
                  row.seconds * 1e3, gbs, 100.0 * gbs / memcpy_gbs);
    std::cout << line;
  }
  std::cout.flush();
}

void bench_size(int64_t n, int threads, int reps) {
  omp_set_num_threads(threads);
  kite::Generator generator(1);
  const Tensor a = kite::rand({n}, kite::DType::Float32, kite::Device::cpu(), &generator);
  const Tensor b = kite::rand({n}, kite::DType::Float32, kite::Device::cpu(), &generator);
  const Tensor out = Tensor::empty({n}, kite::DType::Float32);
  const double f = 4.0 * static_cast<double>(n);  // bytes per float32 pass
  const auto binary = kite::binary_stub.get(kite::Device::cpu());
  const auto unary = kite::unary_stub.get(kite::Device::cpu());

  std::vector<Row> rows = {
      {"memcpy", "2n*4", 2 * f,
       [&] { parallel_memcpy(out.data_ptr<float>(), a.data_ptr<float>(), n); }},
      {"add kernel", "3n*4", 3 * f, [&] { binary(kite::BinaryOp::Add, a, b, out); }},
      {"add op", "3n*4", 3 * f, [&] { kite::add(a, b); }},
      {"mul kernel", "3n*4", 3 * f, [&] { binary(kite::BinaryOp::Mul, a, b, out); }},
      {"mul op", "3n*4", 3 * f, [&] { kite::mul(a, b); }},
      {"exp kernel", "2n*4", 2 * f, [&] { unary(kite::UnaryOp::Exp, {}, a, out); }},
      {"exp op", "2n*4", 2 * f, [&] { kite::exp(a); }},
      {"sum op", "n*4", f, [&] { kite::sum(a); }},
  };
  time_rows(rows, reps);

  // A spot check that the timed kernels computed something sensible.
  binary(kite::BinaryOp::Add, a, b, out);
  const int64_t i = n / 3;
  KITE_CHECK(out.data_ptr<float>()[i] == a.data_ptr<float>()[i] + b.data_ptr<float>()[i],
             "bench_ops: add kernel gave a wrong value at element " << i);
  print_rows(rows, n, threads);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_ops: GB/s of add, mul, exp and sum (float32) next to memcpy"};
  std::vector<std::string> sizes{"1M", "16M"};
  std::vector<int> thread_counts{1, omp_get_num_procs()};
  int reps = 20;
  std::string device = "cpu";
  app.add_option("--sizes", sizes, "element counts, comma separated (K and M suffixes)")
      ->delimiter(',');
  app.add_option("--threads", thread_counts, "OpenMP thread counts, comma separated")
      ->delimiter(',');
  app.add_option("--reps", reps, "timed calls per row (the fastest is reported)")
      ->check(CLI::PositiveNumber);
  // The place for `--device cuda`: create a, b and out on the device, use the device
  // back end's copy as the memcpy row, and call Backend::synchronize before stopping each
  // timer (kernels launch asynchronously). Until the CUDA kernels exist, only cpu.
  app.add_option("--device", device, "where to run: cpu")->check(CLI::IsMember({"cpu"}));
  return kite::apps::run_main(app, argc, argv, [&] {
    std::vector<int64_t> counts;
    for (const std::string& text : sizes) counts.push_back(parse_size(text));
    for (int t : thread_counts) KITE_CHECK(t >= 1, "bench_ops: --threads must be >= 1, got " << t);
    // Drop a repeated thread count (e.g. 1,1 on a one-core machine).
    thread_counts.erase(std::unique(thread_counts.begin(), thread_counts.end()),
                        thread_counts.end());
    std::cout << "# bench_ops (float32, fastest call of " << reps << " interleaved rounds)\n\n"
              << "GB/s = bytes moved / time; % memcpy = GB/s / memcpy GB/s at the same size and "
                 "threads.\n\n"
              << "| op | elements | threads | bytes moved | ms | GB/s | % memcpy |\n"
              << "|---|---|---|---|---|---|---|\n";
    for (int64_t n : counts)
      for (int threads : thread_counts) bench_size(n, threads, reps);
    return 0;
  });
}
