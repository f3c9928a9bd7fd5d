// The communicator's collectives on CPU tensors (MPI under mpirun, the single-process
// communicator without it): all-reduce (sum, average, min, max) and broadcast of float32 and
// float64 tensors of awkward sizes (0, 1, primes, larger than a gradient bucket) against the
// result computed on one process from every rank's values; asynchronous reductions finished
// out of order; host reductions; clear errors for what a communicator cannot take.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "mpi_test_util.h"

namespace kite {
namespace {

using testing_mpi::world;

// Rank r's value at index i: exact in float32 and float64, and distinct per rank and index.
double value_of(int rank, int64_t i) { return (rank + 1) * 0.5 + static_cast<double>(i % 97) - 40; }

template <class T>
Tensor rank_tensor(int rank, int64_t n) {
  std::vector<T> values(n);
  for (int64_t i = 0; i < n; ++i) values[i] = static_cast<T>(value_of(rank, i));
  return Tensor::from_vector(values, {n});
}

const int64_t kSizes[] = {0, 1, 2, 7, 13, 101, 997, 65537, (int64_t{1} << 20) + 7};

template <class T>
void check_all_reduce(ReduceOp op) {
  auto communicator = world();
  const int world_size = communicator->world_size();
  for (int64_t n : kSizes) {
    Tensor t = rank_tensor<T>(communicator->rank(), n);
    communicator->all_reduce(t, op);
    const T* got = t.data_ptr<T>();
    int64_t wrong = 0;
    for (int64_t i = 0; i < n; ++i) {
      T expected = static_cast<T>(value_of(0, i));
      for (int r = 1; r < world_size; ++r) {
        const T v = static_cast<T>(value_of(r, i));
        if (op == ReduceOp::Sum || op == ReduceOp::Average) expected += v;
        if (op == ReduceOp::Min) expected = std::min(expected, v);
        if (op == ReduceOp::Max) expected = std::max(expected, v);
      }
      if (op == ReduceOp::Average) expected *= T(1) / static_cast<T>(world_size);
      if (got[i] != expected) ++wrong;
    }
    EXPECT_EQ(wrong, 0) << "size " << n << " of " << dtype_name(dtype_of<T>());
  }
}

TEST(Collectives, AllReduceSumFloat32) { check_all_reduce<float>(ReduceOp::Sum); }
TEST(Collectives, AllReduceSumFloat64) { check_all_reduce<double>(ReduceOp::Sum); }
TEST(Collectives, AllReduceAverageFloat32) { check_all_reduce<float>(ReduceOp::Average); }
TEST(Collectives, AllReduceAverageFloat64) { check_all_reduce<double>(ReduceOp::Average); }
TEST(Collectives, AllReduceMinMaxFloat64) {
  check_all_reduce<double>(ReduceOp::Min);
  check_all_reduce<double>(ReduceOp::Max);
}

TEST(Collectives, AsyncReductionsFinishedInReverseOrder) {
  auto communicator = world();
  std::vector<Tensor> tensors;
  std::vector<std::unique_ptr<CommWork>> works;
  for (int64_t n : {3, 1009, 40000}) {
    tensors.push_back(rank_tensor<double>(communicator->rank(), n));
    works.push_back(communicator->all_reduce_async(tensors.back(), ReduceOp::Sum));
  }
  for (auto it = works.rbegin(); it != works.rend(); ++it) (*it)->wait();
  for (const Tensor& t : tensors) {
    const double* got = t.data_ptr<double>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      double expected = 0;
      for (int r = 0; r < communicator->world_size(); ++r) expected += value_of(r, i);
      ASSERT_EQ(got[i], expected) << "index " << i << " of " << t.numel();
    }
  }
}

template <class T>
void check_broadcast(int root) {
  auto communicator = world();
  for (int64_t n : kSizes) {
    Tensor t = rank_tensor<T>(communicator->rank(), n);
    communicator->broadcast(t, root);
    const T* got = t.data_ptr<T>();
    int64_t wrong = 0;
    for (int64_t i = 0; i < n; ++i)
      if (got[i] != static_cast<T>(value_of(root, i))) ++wrong;
    EXPECT_EQ(wrong, 0) << "size " << n << " from root " << root;
  }
}

TEST(Collectives, BroadcastFromFirstAndLastRank) {
  const int last = world()->world_size() - 1;
  check_broadcast<float>(0);
  check_broadcast<double>(0);
  check_broadcast<float>(last);
  check_broadcast<double>(last);
}

TEST(Collectives, HostReductionsAndBytes) {
  auto communicator = world();
  const int n = communicator->world_size(), rank = communicator->rank();
  double values[3] = {static_cast<double>(rank), 1.0, -static_cast<double>(rank)};
  communicator->all_reduce_host(values, 3, ReduceOp::Sum);
  EXPECT_EQ(values[0], n * (n - 1) / 2.0);
  EXPECT_EQ(values[1], static_cast<double>(n));
  double low = rank, high = rank;
  communicator->all_reduce_host(&low, 1, ReduceOp::Min);
  communicator->all_reduce_host(&high, 1, ReduceOp::Max);
  EXPECT_EQ(low, 0.0);
  EXPECT_EQ(high, n - 1.0);
  char text[16] = {};
  if (rank == 0) std::snprintf(text, sizeof text, "kite-%d", 4242);
  communicator->broadcast_bytes(text, sizeof text, 0);
  EXPECT_STREQ(text, "kite-4242");
  communicator->barrier();
}

TEST(Collectives, RanksAndSizesAreConsistent) {
  auto communicator = world();
  const LaunchInfo launch = launch_info_from_environment();
  EXPECT_EQ(communicator->world_size(), launch.launched ? launch.world_size : 1);
  EXPECT_EQ(communicator->rank(), launch.rank);
  EXPECT_EQ(communicator->name(), launch.launched ? "mpi" : "single");
  // Every rank of this CI job runs on one node.
  EXPECT_EQ(communicator->local_size(), communicator->world_size());
  EXPECT_EQ(communicator->local_rank(), communicator->rank());
}

TEST(Collectives, ClearErrors) {
  auto communicator = world();
  Tensor matrix = rank_tensor<double>(0, 12);
  Tensor strided = transpose(reshape(matrix, {3, 4}), 0, 1);
  try {
    communicator->all_reduce(strided);
    FAIL() << "a non-contiguous tensor was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("contiguous"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_communicator_kind("gloo"), Error);
  // NCCL without CUDA (this machine's builds in CI) or for CPU tensors: refused at start.
  try {
    make_communicator(CommunicatorKind::Nccl, Device::cpu());
    FAIL() << "NCCL for a CPU device was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--dist nccl"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kite
