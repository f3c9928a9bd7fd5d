// Data-parallel launch for the training binaries (see distributed.h).
#include "apps/common/distributed.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>

#include "engine/error.h"
#include "models/nn/sync_batchnorm.h"

namespace kite::apps {
namespace {

std::mutex current_mutex;
std::shared_ptr<Communicator> current;
int saved_stderr = -1;  // rank > 0: the real stderr, kept for the error that ends the job

// Ranks other than 0 print nothing: their progress bars and messages would repeat rank 0's.
void silence_this_rank() {
  const char* keep = std::getenv("KITE_ALL_RANKS_PRINT");
  if (keep != nullptr && std::string(keep) == "1") return;
  std::fflush(stdout);
  std::fflush(stderr);
  saved_stderr = dup(STDERR_FILENO);
  const int null_fd = open("/dev/null", O_WRONLY);
  if (null_fd < 0) return;
  dup2(null_fd, STDOUT_FILENO);
  dup2(null_fd, STDERR_FILENO);
  close(null_fd);
}

// 64-bit values travel through all_reduce_host (doubles) as 32-bit halves, exactly.
void put_u64(double* slot, uint64_t value) {
  slot[0] = static_cast<double>(value >> 32);
  slot[1] = static_cast<double>(value & 0xffffffffu);
}
uint64_t get_u64(const double* slot) {
  return (static_cast<uint64_t>(slot[0]) << 32) | static_cast<uint64_t>(slot[1]);
}

// FNV-1a: a checksum of a configuration text for check_same.
uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

}  // namespace

void add_distributed_flags(CLI::App& app, DistributedFlags& flags) {
  app.add_option("--dist", flags.dist,
                 "Data-parallel communication under mpirun: auto (NCCL for CUDA, MPI for CPU), "
                 "none, mpi, nccl")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "none", "mpi", "nccl"}));
  app.add_flag("--sync-bn", flags.sync_bn,
               "BatchNorm with the statistics of the global batch (all ranks), not per rank");
  app.add_option("--bucket-mb", flags.bucket_mb, "Gradient all-reduce bucket size in MB")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--no-overlap", flags.no_overlap,
               "All-reduce gradients after backward instead of during it (debugging)");
  app.add_option("--inject-failure", flags.inject_failure,
                 "RANK:STEP: that rank fails at that step (tests)")
      ->group("");  // hidden
}

std::string Distributed::describe() const {
  if (world_size == 1)
    return communicator->name() == "single" ? "1 process"
                                            : "1 process (" + communicator->name() + ")";
  return std::to_string(world_size) + " ranks (" + communicator->name() + ")";
}

int64_t Distributed::local_batch(int64_t global_batch) const {
  KITE_CHECK(global_batch % world_size == 0,
             "--batch " << global_batch << " is the global batch and must be divisible by the "
                        << world_size << " ranks (each takes an equal share)");
  return global_batch / world_size;
}

uint64_t Distributed::rank_seed(uint64_t seed) const {
  if (rank == 0) return seed;
  // splitmix64 of (seed, rank): unrelated streams for different ranks.
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(rank + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void Distributed::check_same(const std::string& what, const std::string& text) const {
  if (world_size == 1) return;
  const uint64_t hash = fnv1a(text);
  double low[2], high[2];
  put_u64(low, hash);
  put_u64(high, hash);
  communicator->all_reduce_host(low, 2, ReduceOp::Min);
  communicator->all_reduce_host(high, 2, ReduceOp::Max);
  KITE_CHECK(get_u64(low) == get_u64(high), "the ranks were started with different "
                                                << what << " (rank " << rank << " has "
                                                << text.substr(0, 200)
                                                << "); every rank must run the same command");
}

void Distributed::average(std::vector<double>& values) const {
  if (world_size == 1) return;
  communicator->all_reduce_host(values.data(), static_cast<int64_t>(values.size()),
                                ReduceOp::Average);
}

bool Distributed::any(bool flag) const {
  if (world_size == 1) return flag;
  double value = flag ? 1.0 : 0.0;
  communicator->all_reduce_host(&value, 1, ReduceOp::Max);
  return value > 0;
}

std::vector<GeneratorState> Distributed::gather_states(const GeneratorState& mine) const {
  std::vector<double> slots(static_cast<size_t>(world_size) * 4, 0.0);
  put_u64(&slots[rank * 4], mine.seed);
  put_u64(&slots[rank * 4 + 2], mine.offset);
  if (world_size > 1)
    communicator->all_reduce_host(slots.data(), static_cast<int64_t>(slots.size()), ReduceOp::Sum);
  std::vector<GeneratorState> states(world_size);
  for (int r = 0; r < world_size; ++r)
    states[r] = {get_u64(&slots[r * 4]), get_u64(&slots[r * 4 + 2])};
  return states;
}

std::unique_ptr<nn::DataParallel> Distributed::make_data_parallel(const nn::Module& model) const {
  nn::DataParallelOptions options;
  options.bucket_mb = flags.bucket_mb;
  options.overlap = !flags.no_overlap;
  auto parallel = std::make_unique<nn::DataParallel>(model, communicator, options);
  parallel->broadcast_state();
  nn::set_sync_batchnorm(flags.sync_bn ? communicator : nullptr);
  return parallel;
}

void Distributed::maybe_inject_failure(int64_t step) const {
  if (flags.inject_failure.empty()) return;
  const size_t colon = flags.inject_failure.find(':');
  KITE_CHECK(colon != std::string::npos,
             "--inject-failure must be RANK:STEP, got '" << flags.inject_failure << "'");
  const int fail_rank = std::stoi(flags.inject_failure.substr(0, colon));
  const int64_t fail_step = std::stoll(flags.inject_failure.substr(colon + 1));
  KITE_CHECK(!(rank == fail_rank && step == fail_step),
             "injected failure at step " << step << " (--inject-failure)");
}

Distributed setup_distributed(const DistributedFlags& flags, Device requested_device) {
  Distributed dist;
  dist.flags = flags;
  const CommunicatorKind kind = parse_communicator_kind(flags.dist);
  dist.communicator = make_communicator(kind, requested_device);
  {
    std::lock_guard<std::mutex> lock(current_mutex);
    current = dist.communicator;
  }
  dist.rank = dist.communicator->rank();
  dist.world_size = dist.communicator->world_size();
  dist.local_rank = dist.communicator->local_rank();
  dist.device = requested_device;
  if (dist.distributed() && requested_device.is_cuda())
    dist.device = Device::cuda(dist.local_rank);  // one GPU per rank, by node-local rank
  if (dist.distributed() && !dist.is_root()) silence_this_rank();
  dist.check_same("distributed flags", flags.dist + " " + std::to_string(flags.sync_bn) + " " +
                                           std::to_string(flags.bucket_mb) + " " +
                                           std::to_string(flags.no_overlap));
  return dist;
}

std::shared_ptr<Communicator> current_communicator() {
  std::lock_guard<std::mutex> lock(current_mutex);
  return current;
}

namespace {
// Drops the process's references to the communicator (the current one, and SyncBatchNorm's),
// so that it is destroyed now, before main returns: a static destroyed at exit would run
// ncclCommDestroy after the CUDA runtime and NCCL have shut down.
void release_communicator() {
  nn::set_sync_batchnorm(nullptr);
  std::lock_guard<std::mutex> lock(current_mutex);
  current.reset();
}
}  // namespace

int run_distributed(const std::string& program, const std::function<int()>& body) {
  try {
    const int code = body();
    release_communicator();
    return code;
  } catch (const std::exception& e) {
    std::shared_ptr<Communicator> communicator = current_communicator();
    if (!communicator || communicator->world_size() == 1) {
      communicator.reset();
      release_communicator();
      throw;
    }
    const std::string message = program + ": " + e.what();
    if (saved_stderr >= 0) {
      const std::string line = "rank " + std::to_string(communicator->rank()) + "/" +
                               std::to_string(communicator->world_size()) + ": error: " + message +
                               "\n";
      [[maybe_unused]] ssize_t written = write(saved_stderr, line.data(), line.size());
    }
    communicator->abort(message, 1);
  }
  return 1;  // not reached: abort ends the process
}

void store_rank_generators(const Distributed& dist, TrainingState& state, const std::string& name,
                           const Generator& generator) {
  const std::vector<GeneratorState> states = dist.gather_states(generator.state());
  state.generators[name] = states[0];
  for (int r = 1; r < dist.world_size; ++r)
    state.generators[name + ".rank" + std::to_string(r)] = states[r];
}

void restore_rank_generator(const Distributed& dist, const LoadedCheckpoint& loaded,
                            const std::string& name, Generator& generator, uint64_t seed) {
  const auto& generators = loaded.state.generators;
  const std::string key = dist.rank == 0 ? name : name + ".rank" + std::to_string(dist.rank);
  if (auto it = generators.find(key); it != generators.end()) {
    generator.set_state(it->second);
    return;
  }
  auto root = generators.find(name);
  KITE_CHECK(root != generators.end(),
             "checkpoint " << loaded.path << ": no generator '" << name << "' to restore");
  generator.set_state({dist.rank_seed(seed), root->second.offset});
}

}  // namespace kite::apps
