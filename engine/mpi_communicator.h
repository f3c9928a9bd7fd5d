// The MPI communicator: collectives on CPU tensors through MPI_Allreduce / MPI_Bcast over
// MPI_COMM_WORLD (so CI can test data parallelism with `mpirun -np 2` on a machine without a
// GPU). Compiled only with KITE_HAVE_MPI; everything else reaches it through mpi_world() in
// engine/communicator.h, so nothing outside this file and its .cpp includes <mpi.h>.
//
// MPI is started once per process (MPI_Init_thread, funneled: only the thread that started
// it calls MPI) and finalised at exit. Errors return to the caller (MPI_ERRORS_RETURN) and
// become kite::Error naming the call, file and line (KITE_MPI_CHECK).
#pragma once

#ifdef KITE_HAVE_MPI

#include <mpi.h>

#include <sstream>
#include <string>

#include "engine/communicator.h"
#include "engine/error.h"

namespace kite {

// The text of an MPI error code.
std::string mpi_error_string(int code);

// KITE_MPI_CHECK(MPI_Bcast(...)): throws kite::Error naming the call, the file and line.
#define KITE_MPI_CHECK(call)                                                             \
  do {                                                                                   \
    const int kite_mpi_rc_ = (call);                                                     \
    if (kite_mpi_rc_ != MPI_SUCCESS)                                                     \
      KITE_FAIL("MPI: " << #call << " failed at " << __FILE__ << ":" << __LINE__ << ": " \
                        << ::kite::mpi_error_string(kite_mpi_rc_));                      \
  } while (0)

class MpiCommunicator final : public Communicator {
 public:
  // Starts MPI if needed; use mpi_world() rather than constructing more than one.
  MpiCommunicator();
  ~MpiCommunicator() override;

  std::string name() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }

  std::unique_ptr<CommWork> all_reduce_async(const Tensor& tensor, ReduceOp op) override;
  void broadcast(const Tensor& tensor, int root = 0) override;
  void barrier() override;
  void broadcast_bytes(void* data, size_t bytes, int root) override;
  void all_reduce_host(double* values, int64_t count, ReduceOp op) override;
  [[noreturn]] void abort(const std::string& message, int exit_code = 1) override;

 private:
  int rank_ = 0, world_size_ = 1, local_rank_ = 0, local_size_ = 1;
  MPI_Comm node_ = MPI_COMM_NULL;  // the ranks sharing this node's memory
};

}  // namespace kite

#endif  // KITE_HAVE_MPI
