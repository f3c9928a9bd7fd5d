// Data-parallel launch for the training binaries: the same binary runs alone or under
// `mpirun -np N`, with a few lines in its main:
//
//   apps::DistributedFlags dist_flags;
//   apps::add_distributed_flags(app, dist_flags);          // --dist, --sync-bn, --bucket-mb, ...
//   return apps::run_main(app, argc, argv, [&] {
//     return apps::run_distributed("train_x", [&] {       // a rank's error ends the whole job
//       apps::Distributed dist = apps::setup_distributed(dist_flags, requested_device);
//       ... loader: rank = dist.rank, world_size = dist.world_size,
//                   batch_size = dist.local_batch(global_batch)
//       ... model on dist.device (cuda:<local rank> under NCCL), then
//       auto parallel = dist.make_data_parallel(*model);    // broadcasts rank 0's weights
//       ... each step: optimizer.zero_grad(); parallel->backward(loss); optimizer.step();
//       ... logs, progress bars, checkpoints: only if dist.is_root()
//     });
//   });
//
// Conventions: --batch is the global batch (every rank takes batch / N images of each step),
// so a run's losses do not depend on N (exactly so with --sync-bn or without BatchNorm).
// Initialisation uses the same seed on every rank (and rank 0's weights are broadcast anyway);
// random streams used during training (dropout, erasing, reparameterisation noise) take
// rank_seed(seed), distinct per rank and equal to seed on rank 0. Ranks other than 0 print
// nothing (their stdout/stderr go to /dev/null; KITE_ALL_RANKS_PRINT=1 keeps them), except the
// error that ends the job.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apps/common/training.h"
#include "engine/communicator.h"
#include "engine/device.h"
#include "engine/generator.h"
#include "models/nn/data_parallel.h"

namespace kite::apps {

struct DistributedFlags {
  std::string dist = "auto";  // auto | none | mpi | nccl
  bool sync_bn = false;
  double bucket_mb = 25.0;
  bool no_overlap = false;
  std::string inject_failure;  // "RANK:STEP", for tests: that rank throws at that step
};

// Adds --dist, --sync-bn, --bucket-mb, --no-overlap and the hidden --inject-failure.
void add_distributed_flags(CLI::App& app, DistributedFlags& flags);

struct Distributed {
  std::shared_ptr<Communicator> communicator;
  DistributedFlags flags;
  int rank = 0, world_size = 1, local_rank = 0;
  Device device;  // where this rank trains: the requested device, or cuda:<local rank> (NCCL)

  bool is_root() const { return rank == 0; }
  bool distributed() const { return world_size > 1; }
  // "1 process" or "4 ranks (mpi)", for start-up messages.
  std::string describe() const;

  // The per-rank batch of a global batch; throws unless the world size divides it.
  int64_t local_batch(int64_t global_batch) const;
  // Distinct random streams per rank; rank 0 keeps `seed` (a 1-process run is unchanged).
  uint64_t rank_seed(uint64_t seed) const;

  // Throws on every rank, naming the ranks, unless all ranks pass the same text (for
  // configurations: a job whose ranks disagree must not start).
  void check_same(const std::string& what, const std::string& text) const;
  // Mean over ranks of each value (the loss of the global batch for logs). Collective.
  void average(std::vector<double>& values) const;
  // True on every rank when `flag` is true on any rank (Ctrl-C, early stop). Collective.
  bool any(bool flag) const;

  // Every rank's state of a generator (collective); element r is rank r's.
  std::vector<GeneratorState> gather_states(const GeneratorState& mine) const;

  // The gradient synchroniser of the model (after it is on `device`), configured by the
  // flags; it broadcasts rank 0's parameters and buffers once made. Also switches BatchNorm
  // to synchronised statistics when --sync-bn is given.
  std::unique_ptr<nn::DataParallel> make_data_parallel(const nn::Module& model) const;

  // --inject-failure: throws kite::Error on the chosen rank at the chosen step.
  void maybe_inject_failure(int64_t step) const;
};

// Creates the communicator (see make_communicator), resolves this rank's device, and checks
// that every rank runs the same flags. Rank 0 prints one line about the world when it has
// more than one rank.
Distributed setup_distributed(const DistributedFlags& flags, Device requested_device);

// The communicator of the last setup_distributed (null before).
std::shared_ptr<Communicator> current_communicator();

// Runs body. Under several ranks, an exception on any rank prints "rank r/N: error: <program>:
// <message>" and ends every rank of the job (MPI_Abort), so a failure never leaves the other
// ranks waiting in a collective. A single process rethrows (run_main prints it, exit 1).
int run_distributed(const std::string& program, const std::function<int()>& body);

// Per-rank random streams in training checkpoints: state.generators[name] is rank 0's (as in a
// 1-process run), state.generators[name + ".rank<r>"] rank r's. Collective (every rank calls it;
// only rank 0's `state` is complete).
void store_rank_generators(const Distributed& dist, TrainingState& state, const std::string& name,
                           const Generator& generator);
// This rank's stream from a checkpoint. A rank the checkpoint lacks (a run resumed on more
// ranks than it was saved with) starts the stream rank_seed(seed) at rank 0's offset.
void restore_rank_generator(const Distributed& dist, const LoadedCheckpoint& loaded,
                            const std::string& name, Generator& generator, uint64_t seed);

}  // namespace kite::apps
