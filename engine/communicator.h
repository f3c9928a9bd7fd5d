// Communicator: the collective operations of data-parallel training, behind one interface
// with three implementations:
//
//   single  world size 1, no MPI needed at run time (a binary started without mpirun);
//   mpi     CPU tensors through MPI_Allreduce / MPI_Bcast (engine/mpi_communicator.h);
//   nccl    CUDA tensors through ncclAllReduce / ncclBroadcast on a dedicated stream
//           (cuda/nccl_communicator.h, registered by the CUDA library like its kernels).
//
// Every rank must call the collectives in the same order with tensors of the same shape and
// dtype (contiguous; the operation happens in place). Rank, world size and the node-local rank
// come from MPI; `make_communicator` picks the implementation (see CommunicatorKind).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/tensor.h"

namespace kite {

enum class ReduceOp { Sum, Average, Min, Max };

// A collective started without waiting for it (all_reduce_async). wait() blocks until the
// result is in the tensor (on CUDA: until the calling thread's stream may use it); test()
// drives progress and says whether it is done. Destroying an unfinished Work waits for it.
class CommWork {
 public:
  virtual ~CommWork() = default;
  virtual void wait() = 0;
  virtual bool test() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual std::string name() const = 0;  // "single", "mpi", "nccl"
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Rank among the processes of this node, and their count (a rank's GPU is its local rank).
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;

  // In place: afterwards every rank holds the elementwise reduction over all ranks.
  // Average is the sum divided by the world size.
  void all_reduce(const Tensor& tensor, ReduceOp op = ReduceOp::Sum);
  virtual std::unique_ptr<CommWork> all_reduce_async(const Tensor& tensor, ReduceOp op) = 0;
  // In place: afterwards every rank holds root's values.
  virtual void broadcast(const Tensor& tensor, int root = 0) = 0;
  virtual void barrier() = 0;

  // Host memory, for bootstrapping and start-up checks (the NCCL id, configuration hashes).
  virtual void broadcast_bytes(void* data, size_t bytes, int root) = 0;
  virtual void all_reduce_host(double* values, int64_t count, ReduceOp op) = 0;

  // Ends every process of the job with this message, naming the rank (MPI_Abort when
  // distributed); a single process just prints and exits.
  [[noreturn]] virtual void abort(const std::string& message, int exit_code = 1);
};

// World size 1: every collective leaves its tensor as it is (the sum over one rank).
class SingleProcessCommunicator final : public Communicator {
 public:
  std::string name() const override { return "single"; }
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  std::unique_ptr<CommWork> all_reduce_async(const Tensor& tensor, ReduceOp op) override;
  void broadcast(const Tensor& tensor, int root = 0) override;
  void barrier() override {}
  void broadcast_bytes(void* data, size_t bytes, int root) override;
  void all_reduce_host(double* values, int64_t count, ReduceOp op) override;
};

enum class CommunicatorKind { Auto, None, Mpi, Nccl };
// "auto", "none", "mpi", "nccl"; anything else throws naming the text.
CommunicatorKind parse_communicator_kind(const std::string& text);

// What the process launcher (mpirun, srun, ...) says about this process, read from the
// environment before MPI starts: launched is false for a plain start.
struct LaunchInfo {
  bool launched = false;
  int world_size = 1;
  int rank = 0;
  int local_rank = 0;
  std::string source;  // the environment variable it came from
};
LaunchInfo launch_info_from_environment();

// True when this build can talk MPI (compiled with KITE_HAVE_MPI).
bool built_with_mpi();

// The communicator for this process:
//   None -> single; Mpi -> MPI (CPU tensors); Nccl -> NCCL (CUDA tensors);
//   Auto -> single when not launched by an MPI launcher, else NCCL when `device` is CUDA and
//           MPI otherwise.
// A process not started by a launcher is world size 1 for every kind: single, except for Nccl,
// which is then NCCL with one rank bootstrapped without MPI (a check of the NCCL path that
// needs no mpirun; the reductions are the identity). Clear errors
// for: a launcher's world size that MPI does not confirm (a different MPI's mpirun), a build
// without MPI under a launcher, NCCL without CUDA/NCCL, NCCL for a CPU device, MPI for a CUDA
// device, and more ranks on a node than it has GPUs.
std::shared_ptr<Communicator> make_communicator(CommunicatorKind kind, Device device);

// The NCCL implementation lives in the CUDA library, which registers its factory here when
// linked in (the engine cannot include CUDA). It receives the MPI communicator to bootstrap
// with (rank, sizes, broadcasting the NCCL unique id) and the device of this rank.
using NcclFactory = std::function<std::shared_ptr<Communicator>(
    std::shared_ptr<Communicator> bootstrap, Device device)>;
void register_nccl_factory(NcclFactory factory);
bool has_nccl_factory();

// Starts MPI (once per process) and returns the MPI communicator of MPI_COMM_WORLD; throws
// when built without MPI. make_communicator calls it; tests may too.
std::shared_ptr<Communicator> mpi_world();

}  // namespace kite
