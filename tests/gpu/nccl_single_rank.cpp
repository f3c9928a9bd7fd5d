// The NCCL communicator on one GPU. NCCL refuses two ranks on the same GPU, so a single-GPU
// machine checks the NCCL path with one rank (world size 1): the unique id broadcast (over MPI
// under mpirun, else over nothing), the non-blocking initialisation, collectives on the
// dedicated stream with their completion events, and the asynchronous error polling. Reductions
// across GPUs need a machine with several (`mpirun -np 2 build/apps/bench_allreduce --device
// cuda`). Skips without a GPU or without NCCL in the build, saying which.
#include <vector>

#include "engine/communicator.h"
#include "gpu_test.h"
#include "ops/factory.h"

#ifdef KITE_HAVE_NCCL
#include "cuda/nccl_communicator.h"
#endif

namespace kite {
namespace {

TEST(NcclSingleRank, CollectivesOnOneGpu) {
  KITE_REQUIRE_CUDA();
#ifndef KITE_HAVE_NCCL
  GTEST_SKIP() << "kite was built without NCCL";
#else
  // Over MPI under mpirun (`mpirun -np 1 test_nccl_single_rank`: the id's broadcast is then
  // MPI's), else over the single-process communicator, as `--dist nccl` does in a plain start.
  std::shared_ptr<Communicator> bootstrap =
      launch_info_from_environment().launched ? mpi_world()
                                              : std::make_shared<SingleProcessCommunicator>();
  auto nccl = std::make_shared<cuda::NcclCommunicator>(bootstrap, Device::cuda(0));
  ASSERT_EQ(nccl->world_size(), 1) << "run this test on one rank (one GPU per rank)";
  EXPECT_EQ(nccl->name(), "nccl");
  const std::vector<double> values = {1.5, -2.0, 3.25, 0.0, 7.0, 11.0, 13.0};
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Average, ReduceOp::Max}) {
      Tensor t = to_device(to_dtype(Tensor::from_vector(values, {7}), dtype), Device::cuda(0));
      auto work = nccl->all_reduce_async(t, op);
      work->wait();
      EXPECT_TRUE(work->test());
      EXPECT_EQ(to_double_vector(t), values) << "one rank: the reduction is the tensor itself";
    }
    Tensor b = to_device(to_dtype(Tensor::from_vector(values, {7}), dtype), Device::cuda(0));
    nccl->broadcast(b, 0);
    EXPECT_EQ(to_double_vector(b), values);
  }
  // Empty and larger-than-a-bucket tensors.
  Tensor empty = zeros({0}, DType::Float32, Device::cuda(0));
  nccl->all_reduce(empty);
  Tensor large = full({(int64_t{1} << 23) + 3}, 0.5, DType::Float32, Device::cuda(0));
  nccl->all_reduce(large, ReduceOp::Sum);
  const std::vector<double> large_values = to_double_vector(large);
  EXPECT_EQ(large_values.front(), 0.5);
  EXPECT_EQ(large_values.back(), 0.5);
  // CPU tensors go to the bootstrap communicator.
  Tensor host = Tensor::from_vector(values, {7});
  nccl->all_reduce(host, ReduceOp::Sum);
  EXPECT_EQ(to_double_vector(host), values);
  nccl->barrier();
#endif
}

// `--dist nccl` in a plain start (no mpirun) is NCCL with one rank, not the single-process
// communicator: the binaries' NCCL path can be checked on a machine without MPI.
TEST(NcclSingleRank, DistNcclWithoutLauncherIsOneNcclRank) {
  KITE_REQUIRE_CUDA();
#ifndef KITE_HAVE_NCCL
  GTEST_SKIP() << "kite was built without NCCL";
#else
  ASSERT_FALSE(launch_info_from_environment().launched) << "run this test without mpirun";
  auto communicator = make_communicator(CommunicatorKind::Nccl, Device::cuda(0));
  EXPECT_EQ(communicator->name(), "nccl");
  EXPECT_EQ(communicator->world_size(), 1);
  Tensor t = to_device(Tensor::from_vector(std::vector<double>{2.0, -3.0}, {2}), Device::cuda(0));
  communicator->all_reduce(t, ReduceOp::Average);
  EXPECT_EQ(to_double_vector(t), (std::vector<double>{2.0, -3.0}));
#endif
}

}  // namespace
}  // namespace kite
