// bench_allreduce: the all-reduce of the data-parallel communicator, timed like nccl-tests'
// all_reduce_perf: sizes from 8 B to 256 MB (doubling), time per operation (the slowest
// rank's mean), algorithm bandwidth (bytes / time) and bus bandwidth
// (algbw x 2(n-1)/n, the traffic per link of a ring all-reduce, comparable across rank counts),
// and a check of every result.
//
//   mpirun -np 2 build/apps/bench_allreduce                      # MPI, CPU tensors
//   mpirun -np 8 build/apps/bench_allreduce --device cuda        # NCCL, one GPU per rank
//   build/apps/bench_allreduce --json runs/bench/allreduce.json  # also write the table as JSON
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/common/distributed.h"
#include "apps/common/main.h"
#include "apps/common/metrics_log.h"
#include "apps/common/training.h"
#include "engine/error.h"
#include "ops/factory.h"

namespace {

using namespace kite;

struct Options {
  std::string device = "cpu", dtype = "float32", json;
  int64_t min_bytes = 8, max_bytes = int64_t{256} << 20;
  int iterations = 20, warmup = 5;
  apps::DistributedFlags dist;
};

std::string human_bytes(int64_t bytes) {
  char text[32];
  if (bytes >= (int64_t{1} << 20))
    std::snprintf(text, sizeof text, "%lld MB", static_cast<long long>(bytes >> 20));
  else if (bytes >= 1024)
    std::snprintf(text, sizeof text, "%lld KB", static_cast<long long>(bytes >> 10));
  else
    std::snprintf(text, sizeof text, "%lld B", static_cast<long long>(bytes));
  return text;
}

int run(Options& o) {
  const apps::Distributed dist = apps::setup_distributed(o.dist, apps::resolve_device(o.device));
  Communicator& communicator = *dist.communicator;
  const DType dtype = o.dtype == "float64" ? DType::Float64 : DType::Float32;
  const int64_t element = static_cast<int64_t>(dtype_size(dtype));
  const int n = dist.world_size;
  const double bus_factor = n > 1 ? 2.0 * (n - 1) / n : 0.0;
  std::printf("bench_allreduce: %s, %s on %s, %d warm-up + %d timed operations per size\n",
              dist.describe().c_str(), o.dtype.c_str(), dist.device.str().c_str(), o.warmup,
              o.iterations);
  std::printf("%10s %12s %12s %12s %12s %8s\n", "size", "elements", "time (us)", "algbw (GB/s)",
              "busbw (GB/s)", "check");
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t bytes = std::max(o.min_bytes, element); bytes <= o.max_bytes; bytes *= 2) {
    const int64_t count = bytes / element;
    // Rank r holds r + 1 everywhere: the sum is n(n+1)/2, exact in both dtypes.
    Tensor tensor = full({count}, dist.rank + 1.0, dtype, dist.device);
    // Large sizes take long: fewer repetitions, at least 3.
    const int iterations =
        std::max<int>(3, std::min<int64_t>(o.iterations, (int64_t{2} << 30) / (bytes * 4)));
    for (int i = 0; i < o.warmup; ++i) communicator.all_reduce(tensor, ReduceOp::Sum);
    fill_(tensor, dist.rank + 1.0);
    communicator.barrier();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) communicator.all_reduce(tensor, ReduceOp::Sum);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
        iterations;
    communicator.all_reduce_host(&seconds, 1, ReduceOp::Max);
    // After k in-place sums every element is n^(k-1) * n(n+1)/2.
    const std::vector<double> values = to_double_vector(tensor);
    double expected = n * (n + 1) / 2.0;
    for (int i = 1; i < iterations; ++i) expected *= n;
    bool correct = true;
    // Exact for powers of two ranks; otherwise float32 rounds the growing sums.
    for (double v : values) correct = correct && std::abs(v - expected) <= 1e-6 * expected;
    double wrong = correct ? 0.0 : 1.0;
    communicator.all_reduce_host(&wrong, 1, ReduceOp::Max);
    const double algbw = static_cast<double>(bytes) / seconds / 1e9;
    std::printf("%10s %12lld %12.1f %12.3f %12.3f %8s\n", human_bytes(bytes).c_str(),
                static_cast<long long>(count), seconds * 1e6, algbw, algbw * bus_factor,
                wrong == 0 ? "ok" : "WRONG");
    std::fflush(stdout);
    rows.push_back({{"bytes", bytes},
                    {"elements", count},
                    {"time_us", seconds * 1e6},
                    {"algbw_gbps", algbw},
                    {"busbw_gbps", algbw * bus_factor},
                    {"correct", wrong == 0}});
    KITE_CHECK(wrong == 0, "bench_allreduce: wrong all-reduce result at " << bytes << " bytes");
  }
  if (!o.json.empty() && dist.is_root())
    apps::write_json_file(o.json, {{"world_size", n},
                                   {"communicator", communicator.name()},
                                   {"device", dist.device.str()},
                                   {"dtype", o.dtype},
                                   {"rows", rows}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"All-reduce bandwidth and latency of the data-parallel communicator"};
  app.name("bench_allreduce");
  Options o;
  apps::add_device_flag(app, o.device);
  apps::add_distributed_flags(app, o.dist);
  app.add_option("--dtype", o.dtype, "float32 or float64")
      ->capture_default_str()
      ->check(CLI::IsMember({"float32", "float64"}));
  app.add_option("--min-bytes", o.min_bytes, "Smallest message")->capture_default_str();
  app.add_option("--max-bytes", o.max_bytes, "Largest message")->capture_default_str();
  app.add_option("--iters", o.iterations, "Timed operations per size (fewer for large sizes)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "Untimed operations per size")->capture_default_str();
  app.add_option("--json", o.json, "Also write the table to this JSON file");
  return apps::run_main(app, argc, argv, [&] {
    return apps::run_distributed("bench_allreduce", [&] { return run(o); });
  });
}
