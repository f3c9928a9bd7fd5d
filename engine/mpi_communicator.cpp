// The MPI communicator (see mpi_communicator.h). Without KITE_HAVE_MPI this file is empty.
#ifdef KITE_HAVE_MPI

#include "engine/mpi_communicator.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <vector>

namespace kite {

std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "error " + std::to_string(code);
  return std::string(text, static_cast<size_t>(length));
}

namespace {

// MPI counts are ints: larger tensors go in pieces of this many elements.
constexpr int64_t kMaxChunk = int64_t{1} << 30;

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return MPI_FLOAT;
    case DType::Float64:
      return MPI_DOUBLE;
    case DType::Int64:
      return MPI_INT64_T;
    case DType::UInt8:
      return MPI_UINT8_T;
  }
  KITE_FAIL("MPI: unsupported dtype");
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Average:  // summed, then divided on completion
      return MPI_SUM;
    case ReduceOp::Min:
      return MPI_MIN;
    case ReduceOp::Max:
      return MPI_MAX;
  }
  KITE_FAIL("MPI: unsupported reduction");
}

void check_cpu_tensor(const Tensor& tensor, const char* what) {
  KITE_CHECK(tensor.defined(), "MPI " << what << ": undefined tensor");
  KITE_CHECK(tensor.device().is_cpu(), "MPI " << what << ": tensor on " << tensor.device().str()
                                              << "; MPI reduces CPU tensors (use --dist nccl for "
                                                 "CUDA tensors)");
  KITE_CHECK(tensor.is_contiguous(),
             "MPI " << what << ": the tensor must be contiguous, got " << describe(tensor));
}

// Finalises MPI at exit if kite started it (Open MPI's mpirun reports a process that exits
// without MPI_Finalize as a failure).
void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void start_mpi() {
  int initialized = 0;
  KITE_MPI_CHECK(MPI_Initialized(&initialized));
  if (initialized) return;
  int provided = 0;
  // Funneled: OpenMP threads and the loader's thread never call MPI.
  KITE_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
  std::atexit(finalize_at_exit);
  // Errors come back as codes (KITE_MPI_CHECK) instead of ending the job without a word.
  KITE_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
}

class MpiWork final : public CommWork {
 public:
  MpiWork(Tensor tensor, ReduceOp op, int world_size)
      : tensor_(std::move(tensor)), op_(op), world_size_(world_size) {}
  ~MpiWork() override {
    if (!done_ && !requests_.empty())
      MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
  }

  void start() {
    const int64_t n = tensor_.numel();
    char* base = static_cast<char*>(tensor_.raw_data());
    const size_t element = dtype_size(tensor_.dtype());
    for (int64_t first = 0; first < n; first += kMaxChunk) {
      const int count = static_cast<int>(std::min(kMaxChunk, n - first));
      requests_.emplace_back();
      KITE_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, base + first * element, count,
                                    mpi_type(tensor_.dtype()), mpi_op(op_), MPI_COMM_WORLD,
                                    &requests_.back()));
    }
  }

  void wait() override {
    if (done_) return;
    if (!requests_.empty())
      KITE_MPI_CHECK(
          MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE));
    finish();
  }

  bool test() override {
    if (done_) return true;
    int flag = 1;
    if (!requests_.empty())
      KITE_MPI_CHECK(MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &flag,
                                 MPI_STATUSES_IGNORE));
    if (flag) finish();
    return done_;
  }

 private:
  void finish() {
    done_ = true;
    if (op_ != ReduceOp::Average || world_size_ == 1) return;
    const int64_t n = tensor_.numel();
    visit_floating(tensor_.dtype(), "MPI all_reduce (average)", [&](auto tag) {
      using T = decltype(tag);
      T* data = tensor_.data_ptr<T>();
      const T scale = T(1) / static_cast<T>(world_size_);
      for (int64_t i = 0; i < n; ++i) data[i] *= scale;
    });
  }

  Tensor tensor_;
  ReduceOp op_;
  int world_size_;
  std::vector<MPI_Request> requests_;
  bool done_ = false;
};

}  // namespace

MpiCommunicator::MpiCommunicator() {
  start_mpi();
  KITE_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  KITE_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world_size_));
  KITE_MPI_CHECK(
      MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_));
  KITE_MPI_CHECK(MPI_Comm_rank(node_, &local_rank_));
  KITE_MPI_CHECK(MPI_Comm_size(node_, &local_size_));
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && node_ != MPI_COMM_NULL) MPI_Comm_free(&node_);
}

std::unique_ptr<CommWork> MpiCommunicator::all_reduce_async(const Tensor& tensor, ReduceOp op) {
  check_cpu_tensor(tensor, "all_reduce");
  KITE_CHECK(op != ReduceOp::Average || is_floating(tensor.dtype()),
             "MPI all_reduce: average needs a floating tensor, got " << describe(tensor));
  auto work = std::make_unique<MpiWork>(tensor, op, world_size_);
  work->start();
  return work;
}

void MpiCommunicator::broadcast(const Tensor& tensor, int root) {
  check_cpu_tensor(tensor, "broadcast");
  KITE_CHECK(root >= 0 && root < world_size_,
             "MPI broadcast: root " << root << " outside a world of " << world_size_);
  const int64_t n = tensor.numel();
  char* base = static_cast<char*>(tensor.raw_data());
  const size_t element = dtype_size(tensor.dtype());
  for (int64_t first = 0; first < n; first += kMaxChunk) {
    const int count = static_cast<int>(std::min(kMaxChunk, n - first));
    KITE_MPI_CHECK(
        MPI_Bcast(base + first * element, count, mpi_type(tensor.dtype()), root, MPI_COMM_WORLD));
  }
}

void MpiCommunicator::barrier() { KITE_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD)); }

void MpiCommunicator::broadcast_bytes(void* data, size_t bytes, int root) {
  KITE_CHECK(bytes <= static_cast<size_t>(std::numeric_limits<int>::max()),
             "MPI broadcast_bytes: " << bytes << " bytes is too many for one call");
  KITE_MPI_CHECK(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, root, MPI_COMM_WORLD));
}

void MpiCommunicator::all_reduce_host(double* values, int64_t count, ReduceOp op) {
  KITE_CHECK(count >= 0 && count <= kMaxChunk, "MPI all_reduce_host: bad count " << count);
  KITE_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values, static_cast<int>(count), MPI_DOUBLE,
                               mpi_op(op), MPI_COMM_WORLD));
  if (op == ReduceOp::Average)
    for (int64_t i = 0; i < count; ++i) values[i] /= world_size_;
}

void MpiCommunicator::abort(const std::string& message, int exit_code) {
  std::fprintf(stderr, "rank %d/%d: error: %s\n", rank_, world_size_, message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
}

std::shared_ptr<Communicator> mpi_world() {
  static std::mutex mutex;
  static std::shared_ptr<Communicator> world;
  std::lock_guard<std::mutex> lock(mutex);
  if (!world) world = std::make_shared<MpiCommunicator>();
  return world;
}

}  // namespace kite

#endif  // KITE_HAVE_MPI
