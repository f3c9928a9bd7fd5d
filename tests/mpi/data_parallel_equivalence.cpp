// Gradient equivalence of data-parallel training, float64: N ranks, each with B/N images of a
// global batch of B, against one process with the whole batch (computed on every rank with
// its own replica, no communication). With --sync-bn, or without BatchNorm, the averaged
// gradients equal the single process's to 1e-10 and 20 SGD steps give the same loss sequence
// to 1e-9; with overlap on and off and buckets smaller than a layer. Per-rank BatchNorm
// statistics (the default) differ from the whole batch's when N > 1, which shows that the
// synchronised path is what makes the difference.
#include <gtest/gtest.h>

#include <cmath>

#include "models/nn/data_parallel.h"
#include "models/nn/sync_batchnorm.h"
#include "models/optim/sgd.h"
#include "mpi_test_util.h"

namespace kite {
namespace {

using testing_mpi::world;

constexpr int64_t kBatch = 12;  // divisible by 1, 2, 3 and 4 ranks
constexpr int kSteps = 20;

// Rows of this rank's share of global batch `step`.
Tensor shard(const Tensor& all, int64_t step, int rank, int world_size) {
  const int64_t n = all.size(0), b = kBatch / world_size;
  const int64_t start = (step * kBatch) % n + rank * b;
  return narrow(all, 0, start, b);
}

Tensor global_batch(const Tensor& all, int64_t step) {
  return narrow(all, 0, (step * kBatch) % all.size(0), kBatch);
}

double max_abs_difference(const Tensor& a, const Tensor& b) {
  std::vector<double> x = to_double_vector(a), y = to_double_vector(b);
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

struct Setting {
  bool batch_norm, sync_bn, overlap;
  double bucket_mb;
};

class Equivalence : public ::testing::TestWithParam<Setting> {
 protected:
  void TearDown() override { nn::set_sync_batchnorm(nullptr); }
};

TEST_P(Equivalence, GradientsAndLossSequenceMatchOneProcess) {
  const Setting setting = GetParam();
  auto communicator = world();
  const int rank = communicator->rank(), n = communicator->world_size();
  const testing_mpi::Data data = testing_mpi::make_data(4 * kBatch, 7);

  auto reference = testing_mpi::small_conv_net(setting.batch_norm, 11);
  auto replica = testing_mpi::small_conv_net(setting.batch_norm, 11);
  reference->train();
  replica->train();
  nn::DataParallel parallel(*replica, communicator, {setting.bucket_mb, setting.overlap});
  parallel.broadcast_state();
  optim::SGD reference_sgd(reference->parameters(), {0.05, 0.9});
  optim::SGD replica_sgd(replica->parameters(), {0.05, 0.9});

  double worst_grad = 0, worst_loss = 0, worst_stat = 0;
  for (int step = 0; step < kSteps; ++step) {
    nn::set_sync_batchnorm(nullptr);
    Tensor reference_loss = mse_loss(reference->forward(global_batch(data.images, step)),
                                     global_batch(data.targets, step));
    reference_sgd.zero_grad();
    reference_loss.backward();

    nn::set_sync_batchnorm(setting.sync_bn ? communicator : nullptr);
    Tensor local_loss = mse_loss(replica->forward(shard(data.images, step, rank, n)),
                                 shard(data.targets, step, rank, n));
    replica_sgd.zero_grad();
    parallel.backward(local_loss);
    // The global batch's loss is the mean of the ranks' losses (equal shares).
    double loss = local_loss.item<double>();
    communicator->all_reduce_host(&loss, 1, ReduceOp::Average);
    worst_loss = std::max(worst_loss, std::abs(loss - reference_loss.item<double>()));

    const std::vector<Tensor> expected = reference->parameters(), got = replica->parameters();
    for (size_t i = 0; i < expected.size(); ++i)
      worst_grad = std::max(worst_grad, max_abs_difference(expected[i].grad(), got[i].grad()));
    reference_sgd.step();
    replica_sgd.step();
  }
  const auto expected_buffers = reference->named_buffers(), got_buffers = replica->named_buffers();
  for (size_t i = 0; i < expected_buffers.size(); ++i)
    if (is_floating(expected_buffers[i].second.dtype()))
      worst_stat = std::max(worst_stat,
                            max_abs_difference(expected_buffers[i].second, got_buffers[i].second));

  const bool exact = !setting.batch_norm || setting.sync_bn || n == 1;
  if (exact) {
    EXPECT_LE(worst_grad, 1e-10) << "rank " << rank << " of " << n;
    EXPECT_LE(worst_loss, 1e-9) << "rank " << rank << " of " << n;
    EXPECT_LE(worst_stat, 1e-10) << "running statistics, rank " << rank << " of " << n;
  } else {
    // Per-rank statistics: a different computation, as in PyTorch's DDP without SyncBatchNorm.
    EXPECT_GT(worst_grad, 1e-6) << "per-rank BatchNorm matched the global batch exactly";
  }
  if (n > 1 && setting.overlap) {
    EXPECT_GT(parallel.stats().buckets_launched_during_backward, 0)
        << "no bucket was reduced while backward was running";
  }
  if (n > 1 && !setting.overlap) {
    EXPECT_EQ(parallel.stats().buckets_launched_during_backward, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    DataParallel, Equivalence,
    ::testing::Values(Setting{true, true, true, 25.0}, Setting{true, true, false, 25.0},
                      Setting{true, true, true, 0.0001}, Setting{false, false, true, 0.0002},
                      Setting{false, false, false, 0.0}, Setting{true, false, true, 25.0}),
    [](const ::testing::TestParamInfo<Setting>& info) {
      const Setting& s = info.param;
      std::string name = s.batch_norm ? (s.sync_bn ? "SyncBN" : "PerRankBN") : "NoBN";
      name += s.overlap ? "_Overlap" : "_NoOverlap";
      name += s.bucket_mb >= 1 ? "_Bucket25MB" : "_SmallBuckets";
      return name;
    });

TEST(DataParallel, BucketsFollowReverseParameterOrderAndCapacity) {
  auto model = testing_mpi::small_conv_net(false, 3);
  const auto parameters = model->parameters();
  // 0.0002 MB = 200 bytes = 25 float64s: the conv weights (72, 108 values) get buckets of
  // their own, the small tensors share.
  nn::DataParallel parallel(*model, world(), {0.0002, true});
  std::vector<int> order;
  for (const auto& bucket : parallel.bucket_layout()) {
    int64_t bytes = 0;
    for (int i : bucket) bytes += parameters[i].numel() * 8;
    EXPECT_TRUE(bucket.size() == 1 || bytes <= 200) << "bucket of " << bytes << " bytes";
    order.insert(order.end(), bucket.begin(), bucket.end());
  }
  ASSERT_EQ(order.size(), parameters.size());
  for (size_t k = 0; k < order.size(); ++k)
    EXPECT_EQ(order[k], static_cast<int>(parameters.size() - 1 - k));
  EXPECT_GT(parallel.bucket_layout().size(), 2u);
}

TEST(DataParallel, BroadcastGivesEveryRankRootWeights) {
  auto communicator = world();
  // Different seeds per rank: only the broadcast can make them equal.
  auto model = testing_mpi::small_conv_net(true, 100 + communicator->rank());
  auto root_model = testing_mpi::small_conv_net(true, 100);
  nn::DataParallel parallel(*model, communicator);
  parallel.broadcast_state();
  const auto expected = root_model->state_dict();
  for (const auto& [name, tensor] : model->state_dict())
    EXPECT_EQ(max_abs_difference(tensor, expected.at(name)), 0.0) << name;
}

TEST(SyncBatchNorm, OneRankCompositeMatchesFusedBatchNorm) {
  // The synchronised formula itself (mean, centred variance, differentiable all-reduce) on a
  // world of one, against the fused batch_norm op: values, input gradients and statistics.
  auto single = std::make_shared<SingleProcessCommunicator>();
  Generator generator(5);
  Tensor x = randn({5, 3, 4, 4}, DType::Float64, Device::cpu(), &generator).set_requires_grad(true);
  Tensor w = randn({3}, DType::Float64, Device::cpu(), &generator).set_requires_grad(true);
  Tensor b = randn({3}, DType::Float64, Device::cpu(), &generator).set_requires_grad(true);
  Tensor g = randn({5, 3, 4, 4}, DType::Float64, Device::cpu(), &generator);
  Tensor rm1 = zeros({3}, DType::Float64), rv1 = ones({3}, DType::Float64);
  Tensor rm2 = zeros({3}, DType::Float64), rv2 = ones({3}, DType::Float64);
  Tensor y1 = batch_norm(x, w, b, rm1, rv1, true, 0.1, 1e-5);
  Tensor y2 = nn::sync_batch_norm(x, w, b, rm2, rv2, 0.1, 1e-5, single);
  EXPECT_LE(max_abs_difference(y1, y2), 1e-12);
  const auto g1 = autograd::grad({y1}, {x, w, b}, {g});
  const auto g2 = autograd::grad({y2}, {x, w, b}, {g});
  for (int i = 0; i < 3; ++i) EXPECT_LE(max_abs_difference(g1[i], g2[i]), 1e-11) << "input " << i;
  EXPECT_LE(max_abs_difference(rm1, rm2), 1e-14);
  EXPECT_LE(max_abs_difference(rv1, rv2), 1e-14);
}

}  // namespace
}  // namespace kite
