// Resuming across world sizes, float64: N ranks train K steps of a small conv net with
// synchronised BatchNorm and Adam, rank 0 writes a training checkpoint (apps/common), and a
// single process resumes from it for M more steps. Its losses and final weights equal those
// of one process that trained K + M steps without stopping, given the same data order (the
// global batches hold the same images whatever the world size). Also: per-rank random streams
// in checkpoints (each rank's state stored, rank 0's under the 1-process name).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "apps/common/distributed.h"
#include "apps/common/training.h"
#include "models/nn/data_parallel.h"
#include "models/nn/sync_batchnorm.h"
#include "models/optim/adam.h"
#include "mpi_test_util.h"

namespace kite {
namespace {

namespace fs = std::filesystem;
using testing_mpi::world;

constexpr int64_t kBatch = 12;
constexpr int kFirst = 6, kMore = 5;

// Trains `steps` steps from global step `first` on this rank's share; returns the global
// losses (the mean of the ranks' losses).
std::vector<double> train(nn::Module& model, optim::Optimizer& optimizer,
                          nn::DataParallel& parallel, const testing_mpi::Data& data, int first,
                          int steps) {
  auto& communicator = parallel.communicator();
  const int rank = communicator.rank(), n = communicator.world_size();
  const int64_t b = kBatch / n;
  std::vector<double> losses;
  for (int step = first; step < first + steps; ++step) {
    const int64_t start = (step * kBatch) % data.images.size(0) + rank * b;
    auto& layer = dynamic_cast<nn::Layer&>(model);
    Tensor loss = mse_loss(layer.forward(narrow(data.images, 0, start, b)),
                           narrow(data.targets, 0, start, b));
    optimizer.zero_grad();
    parallel.backward(loss);
    optimizer.step();
    double value = loss.item<double>();
    communicator.all_reduce_host(&value, 1, ReduceOp::Average);
    losses.push_back(value);
  }
  return losses;
}

fs::path shared_temp_dir() {
  // Rank 0's process id names a folder all ranks agree on.
  int64_t id = getpid();
  world()->broadcast_bytes(&id, sizeof id, 0);
  return fs::temp_directory_path() / ("kite_resume_world_" + std::to_string(id));
}

TEST(ResumeAcrossWorldSizes, OneRankContinuesAnNRankCheckpoint) {
  auto communicator = world();
  const testing_mpi::Data data = testing_mpi::make_data(4 * kBatch, 21);
  const fs::path dir = shared_temp_dir();
  const std::string path = (dir / "last.safetensors").string();

  // Phase 1: every rank, K steps, synchronised BatchNorm.
  {
    auto model = testing_mpi::small_conv_net(true, 5);
    model->train();
    nn::DataParallel parallel(*model, communicator);
    parallel.broadcast_state();
    optim::Adam adam(model->parameters(), AdamParams{.lr = 1e-2});
    nn::set_sync_batchnorm(communicator);
    train(*model, adam, parallel, data, 0, kFirst);
    nn::set_sync_batchnorm(nullptr);
    apps::TrainingState state;
    state.kind = "test";
    state.step = kFirst;
    state.metadata["world_size"] = std::to_string(communicator->world_size());
    if (communicator->rank() == 0) {
      fs::create_directories(dir);
      save_checkpoint(path, apps::make_training_checkpoint(*model, &adam, state));
    }
    communicator->barrier();
  }
  if (communicator->rank() != 0) return;

  // Phase 2, rank 0 alone: the uninterrupted single-process run, and the resumed one.
  auto single = std::make_shared<SingleProcessCommunicator>();
  auto reference = testing_mpi::small_conv_net(true, 5);
  reference->train();
  nn::DataParallel reference_parallel(*reference, single);
  optim::Adam reference_adam(reference->parameters(), AdamParams{.lr = 1e-2});
  train(*reference, reference_adam, reference_parallel, data, 0, kFirst);
  const std::vector<double> expected =
      train(*reference, reference_adam, reference_parallel, data, kFirst, kMore);

  auto resumed = testing_mpi::small_conv_net(true, 999);  // other weights until restored
  resumed->train();
  optim::Adam resumed_adam(resumed->parameters(), AdamParams{.lr = 1e-2});
  const apps::LoadedCheckpoint loaded = apps::read_training_checkpoint(path, "test");
  loaded.restore_model(*resumed);
  loaded.restore_optimizer(resumed_adam);
  ASSERT_EQ(loaded.state.step, kFirst);
  nn::DataParallel resumed_parallel(*resumed, single);
  resumed_parallel.broadcast_state();
  const std::vector<double> got = train(*resumed, resumed_adam, resumed_parallel, data,
                                        static_cast<int>(loaded.state.step), kMore);
  fs::remove_all(dir);

  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], 1e-9) << "step " << kFirst + i << " after resuming a "
                                           << communicator->world_size() << "-rank checkpoint";
  const auto want = reference->state_dict();
  for (const auto& [name, tensor] : resumed->state_dict()) {
    if (!is_floating(tensor.dtype())) continue;
    const std::vector<double> a = to_double_vector(tensor), b = to_double_vector(want.at(name));
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-10) << name << "[" << i << "]";
  }
}

TEST(ResumeAcrossWorldSizes, PerRankGeneratorStates) {
  auto communicator = world();
  apps::Distributed dist;
  dist.communicator = communicator;
  dist.rank = communicator->rank();
  dist.world_size = communicator->world_size();
  Generator generator(dist.rank_seed(77));
  std::vector<double> draws(5 + dist.rank);  // ranks advance their streams differently
  generator.fill_uniform(draws.data(), static_cast<int64_t>(draws.size()));
  apps::TrainingState state;
  apps::store_rank_generators(dist, state, "augment", generator);
  // Every rank has the full set (the gather is an all-reduce); rank 0's under the plain name.
  ASSERT_EQ(state.generators.size(), static_cast<size_t>(dist.world_size));
  EXPECT_EQ(state.generators.at("augment").seed, 77u);
  for (int r = 1; r < dist.world_size; ++r) {
    const GeneratorState s = state.generators.at("augment.rank" + std::to_string(r));
    apps::Distributed other = dist;
    other.rank = r;
    EXPECT_EQ(s.seed, other.rank_seed(77));
    EXPECT_NE(s.seed, 77u);
  }
  apps::LoadedCheckpoint loaded;
  loaded.state = state;
  Generator restored;
  apps::restore_rank_generator(dist, loaded, "augment", restored, 77);
  EXPECT_EQ(restored.state(), generator.state());
  // One more rank than saved: its own stream at rank 0's offset.
  apps::Distributed bigger = dist;
  bigger.world_size = dist.world_size + 1;
  bigger.rank = dist.world_size;
  apps::restore_rank_generator(bigger, loaded, "augment", restored, 77);
  EXPECT_EQ(restored.seed(), bigger.rank_seed(77));
  EXPECT_EQ(restored.offset(), state.generators.at("augment").offset);
}

}  // namespace
}  // namespace kite
