// The NCCL communicator: all-reduce and broadcast of CUDA tensors with NCCL, for
// data-parallel training on GPUs (one GPU per rank, chosen by the node-local rank).
//
// Bootstrapped over MPI (any Communicator): rank 0 creates the NCCL unique id, the bootstrap
// communicator broadcasts it, every rank joins with ncclCommInitRank. Collectives run on a
// dedicated non-blocking stream that first waits for the work queued so far on the calling
// thread's stream (so the gradients are complete), and a CommWork's wait() polls its completion
// event together with ncclCommGetAsyncError, with a timeout (KITE_NCCL_TIMEOUT_S, default 600):
// a peer that failed or stopped turns into an error naming the collective instead of a hang.
// The communicator is non-blocking (NCCL's config.blocking = 0) for the same reason, also at
// initialisation. Host-side operations (barrier, bytes, host reductions) and CPU tensors go
// to the bootstrap communicator.
//
// Compiled only with KITE_HAVE_NCCL; the CUDA library registers the factory with the engine
// (register_nccl_factory), so binaries choose it with --dist nccl or auto.
#pragma once

#ifdef KITE_HAVE_NCCL

#include <cuda_runtime.h>
#include <nccl.h>

#include "engine/communicator.h"

namespace kite::cuda {

[[noreturn]] void throw_nccl_error(ncclResult_t status, ncclComm_t comm, const char* call,
                                   const char* file, int line);
inline void check_nccl(ncclResult_t status, ncclComm_t comm, const char* call, const char* file,
                       int line) {
  // ncclInProgress is not a failure on a non-blocking communicator: the caller polls.
  if (status != ncclSuccess && status != ncclInProgress)
    throw_nccl_error(status, comm, call, file, line);
}

// KITE_NCCL_CHECK(comm, ncclAllReduce(...)): throws kite::Error naming the status, NCCL's last
// error text, the call, file and line.
#define KITE_NCCL_CHECK(comm, call) \
  ::kite::cuda::check_nccl((call), (comm), #call, __FILE__, __LINE__)

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(std::shared_ptr<Communicator> bootstrap, Device device);
  ~NcclCommunicator() override;

  std::string name() const override { return "nccl"; }
  int rank() const override { return bootstrap_->rank(); }
  int world_size() const override { return bootstrap_->world_size(); }
  int local_rank() const override { return bootstrap_->local_rank(); }
  int local_size() const override { return bootstrap_->local_size(); }

  std::unique_ptr<CommWork> all_reduce_async(const Tensor& tensor, ReduceOp op) override;
  void broadcast(const Tensor& tensor, int root = 0) override;
  void barrier() override;
  void broadcast_bytes(void* data, size_t bytes, int root) override;
  void all_reduce_host(double* values, int64_t count, ReduceOp op) override;
  [[noreturn]] void abort(const std::string& message, int exit_code = 1) override;

  // Blocks until NCCL has accepted the last call on the non-blocking communicator (or its
  // asynchronous error, or the timeout, turns into kite::Error naming `what`).
  void wait_accepted(const char* what);
  // Blocks until `done` has fired, checking NCCL's asynchronous error and the timeout.
  void wait_event(cudaEvent_t done, const std::string& what);

 private:
  void check_tensor(const Tensor& tensor, const char* what) const;

  std::shared_ptr<Communicator> bootstrap_;
  Device device_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  double timeout_seconds_ = 600;
};

}  // namespace kite::cuda

#endif  // KITE_HAVE_NCCL
