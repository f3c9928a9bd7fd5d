// The communicator interface, the single-process implementation and the choice of
// implementation at start-up (see communicator.h).
#include "engine/communicator.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "engine/backend.h"
#include "engine/error.h"

namespace kite {

void Communicator::all_reduce(const Tensor& tensor, ReduceOp op) {
  all_reduce_async(tensor, op)->wait();
}

void Communicator::abort(const std::string& message, int exit_code) {
  std::fprintf(stderr, "rank %d/%d: error: %s\n", rank(), world_size(), message.c_str());
  std::fflush(stderr);
  std::exit(exit_code);
}

namespace {

class DoneWork final : public CommWork {
 public:
  void wait() override {}
  bool test() override { return true; }
};

void check_collective_tensor(const Tensor& tensor, const char* what) {
  KITE_CHECK(tensor.defined(), what << ": undefined tensor");
  KITE_CHECK(tensor.is_contiguous(),
             what << ": the tensor must be contiguous, got " << describe(tensor));
}

}  // namespace

std::unique_ptr<CommWork> SingleProcessCommunicator::all_reduce_async(const Tensor& tensor,
                                                                      ReduceOp) {
  check_collective_tensor(tensor, "all_reduce");
  return std::make_unique<DoneWork>();  // sum, mean, min and max over one rank are the tensor
}

void SingleProcessCommunicator::broadcast(const Tensor& tensor, int root) {
  check_collective_tensor(tensor, "broadcast");
  KITE_CHECK(root == 0, "broadcast: root " << root << " in a world of 1 rank");
}

void SingleProcessCommunicator::broadcast_bytes(void*, size_t, int root) {
  KITE_CHECK(root == 0, "broadcast_bytes: root " << root << " in a world of 1 rank");
}

void SingleProcessCommunicator::all_reduce_host(double*, int64_t, ReduceOp) {}

CommunicatorKind parse_communicator_kind(const std::string& text) {
  if (text == "auto") return CommunicatorKind::Auto;
  if (text == "none") return CommunicatorKind::None;
  if (text == "mpi") return CommunicatorKind::Mpi;
  if (text == "nccl") return CommunicatorKind::Nccl;
  KITE_FAIL("--dist must be auto, none, mpi or nccl, got '" << text << "'");
}

LaunchInfo launch_info_from_environment() {
  // Open MPI's mpirun, then the PMI variables of MPICH/Hydra and Slurm.
  struct Names {
    const char *size, *rank, *local_rank;
  };
  const Names candidates[] = {
      {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK"},
      {"PMI_SIZE", "PMI_RANK", "MPI_LOCALRANKID"},
      {"PMIX_SIZE", "PMIX_RANK", "PMIX_LOCAL_RANK"},
  };
  LaunchInfo info;
  for (const Names& names : candidates) {
    const char* size = std::getenv(names.size);
    if (size == nullptr) continue;
    info.launched = true;
    info.source = names.size;
    info.world_size = std::atoi(size);
    const char* rank = std::getenv(names.rank);
    info.rank = rank ? std::atoi(rank) : 0;
    const char* local = std::getenv(names.local_rank);
    info.local_rank = local ? std::atoi(local) : info.rank;
    KITE_CHECK(info.world_size >= 1 && info.rank >= 0 && info.rank < info.world_size,
               "launcher environment: " << names.size << "=" << size << " and rank " << info.rank
                                        << " make no sense");
    return info;
  }
  return info;
}

bool built_with_mpi() {
#ifdef KITE_HAVE_MPI
  return true;
#else
  return false;
#endif
}

#ifndef KITE_HAVE_MPI
std::shared_ptr<Communicator> mpi_world() {
  KITE_FAIL("MPI: this build of kite has no MPI (install libopenmpi-dev and reconfigure)");
}
#endif

namespace {
std::mutex nccl_factory_mutex;
NcclFactory& nccl_factory() {
  static NcclFactory factory;
  return factory;
}
}  // namespace

void register_nccl_factory(NcclFactory factory) {
  std::lock_guard<std::mutex> lock(nccl_factory_mutex);
  nccl_factory() = std::move(factory);
}

bool has_nccl_factory() {
  std::lock_guard<std::mutex> lock(nccl_factory_mutex);
  return static_cast<bool>(nccl_factory());
}

namespace {
// The registered NCCL communicator on `device`, bootstrapped over `bootstrap`.
std::shared_ptr<Communicator> nccl_over(std::shared_ptr<Communicator> bootstrap, Device device) {
  NcclFactory factory;
  {
    std::lock_guard<std::mutex> lock(nccl_factory_mutex);
    factory = nccl_factory();
  }
  return factory(std::move(bootstrap), device);
}
}  // namespace

std::shared_ptr<Communicator> make_communicator(CommunicatorKind kind, Device device) {
  const LaunchInfo launch = launch_info_from_environment();
  if (kind == CommunicatorKind::Nccl) {
    // Checked even for a single process, so that a misconfiguration shows on a laptop too.
    KITE_CHECK(has_backend(DeviceType::CUDA),
               "--dist nccl: this build of kite has no CUDA back end (NCCL needs CUDA tensors)");
    KITE_CHECK(has_nccl_factory(),
               "--dist nccl: this build of kite was compiled without NCCL (libnccl not found at "
               "configure time)");
    KITE_CHECK(device.is_cuda(), "--dist nccl: NCCL reduces CUDA tensors, but the device is "
                                     << device.str() << " (use --device cuda or --dist mpi)");
  }
  if (kind == CommunicatorKind::Mpi)
    KITE_CHECK(device.is_cpu(), "--dist mpi: MPI reduces CPU tensors, but the device is "
                                    << device.str() << " (use --dist nccl or auto)");
  if (kind == CommunicatorKind::None || !launch.launched) {
    KITE_CHECK(!launch.launched || launch.world_size == 1,
               "--dist none, but the launcher started " << launch.world_size
                                                        << " processes; each would train alone");
    auto single = std::make_shared<SingleProcessCommunicator>();
    // NCCL asked for by name in a plain start: one rank, bootstrapped without MPI (the one id
    // has nobody to go to). The reductions are the identity, but the path is NCCL's, so a
    // machine without MPI can still check it.
    if (kind == CommunicatorKind::Nccl) return nccl_over(single, device);
    return single;
  }
  KITE_CHECK(built_with_mpi(), "started by a launcher with "
                                   << launch.world_size << " processes (" << launch.source
                                   << "), but this build of kite has no MPI");
  std::shared_ptr<Communicator> mpi = mpi_world();
  KITE_CHECK(mpi->world_size() == launch.world_size,
             "the launcher says " << launch.world_size << " processes (" << launch.source
                                  << ") but MPI sees " << mpi->world_size()
                                  << ": mpirun belongs to a different MPI than the one kite was "
                                     "built with");
  const bool use_nccl =
      kind == CommunicatorKind::Nccl || (kind == CommunicatorKind::Auto && device.is_cuda());
  if (!use_nccl) return mpi;
  KITE_CHECK(has_nccl_factory(), "--dist auto: the device is "
                                     << device.str()
                                     << " but this build has no NCCL to reduce CUDA tensors");
  const int gpus = backend_for(DeviceType::CUDA).device_count();
  KITE_CHECK(mpi->local_size() <= gpus, "NCCL: " << mpi->local_size()
                                                 << " ranks on this node but only " << gpus
                                                 << " GPU(s): NCCL needs one GPU per rank "
                                                    "(use fewer ranks per node, -np / --map-by)");
  // One GPU per rank, by node-local rank; a single rank keeps the device it was given
  // (--device cuda:N), as setup_distributed does for the model.
  return nccl_over(mpi, mpi->world_size() == 1 ? device : Device::cuda(mpi->local_rank()));
}

}  // namespace kite
