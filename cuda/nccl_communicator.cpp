// The NCCL communicator (see nccl_communicator.h). Without KITE_HAVE_NCCL this file is empty.
#ifdef KITE_HAVE_NCCL

#include "cuda/nccl_communicator.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "cuda/check.h"
#include "cuda/stream.h"
#include "engine/error.h"

namespace kite::cuda {

void throw_nccl_error(ncclResult_t status, ncclComm_t comm, const char* call, const char* file,
                      int line) {
  std::ostringstream message;
  message << "NCCL error " << static_cast<int>(status) << " (" << ncclGetErrorString(status)
          << ") in " << call << " at " << file << ":" << line;
  const char* last = ncclGetLastError(comm);
  if (last != nullptr && last[0] != '\0') message << ": " << last;
  throw Error(message.str());
}

namespace {

using Clock = std::chrono::steady_clock;

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return ncclFloat32;
    case DType::Float64:
      return ncclFloat64;
    case DType::Int64:
      return ncclInt64;
    case DType::UInt8:
      return ncclUint8;
  }
  KITE_FAIL("NCCL: unsupported dtype");
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return ncclSum;
    case ReduceOp::Average:
      return ncclAvg;
    case ReduceOp::Min:
      return ncclMin;
    case ReduceOp::Max:
      return ncclMax;
  }
  KITE_FAIL("NCCL: unsupported reduction");
}

class NcclWork final : public CommWork {
 public:
  NcclWork(NcclCommunicator& communicator, cudaEvent_t done, std::string what)
      : communicator_(communicator), done_(done), what_(std::move(what)) {}
  ~NcclWork() override {
    if (!finished_) {
      try {
        wait();
      } catch (...) {
        // A destructor cannot throw; the error was (or will be) reported by the next call.
      }
    }
    cudaEventDestroy(done_);
  }
  void wait() override {
    if (finished_) return;
    communicator_.wait_event(done_, what_);
    // The result is complete on the device; later work on the caller's stream may use it.
    CUDA_CHECK(cudaStreamWaitEvent(current_stream(), done_, 0));
    finished_ = true;
  }
  bool test() override {
    if (finished_) return true;
    const cudaError_t status = cudaEventQuery(done_);
    if (status == cudaErrorNotReady) return false;
    CUDA_CHECK(status);
    finished_ = true;
    return true;
  }

 private:
  NcclCommunicator& communicator_;
  cudaEvent_t done_;
  std::string what_;
  bool finished_ = false;
};

}  // namespace

NcclCommunicator::NcclCommunicator(std::shared_ptr<Communicator> bootstrap, Device device)
    : bootstrap_(std::move(bootstrap)), device_(device) {
  KITE_CHECK(device_.is_cuda(), "NCCL: device " << device_.str() << " is not a GPU");
  if (const char* timeout = std::getenv("KITE_NCCL_TIMEOUT_S"))
    timeout_seconds_ = std::atof(timeout);
  CUDA_CHECK(cudaSetDevice(device_.index));
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  ncclUniqueId id;
  if (bootstrap_->rank() == 0) KITE_NCCL_CHECK(nullptr, ncclGetUniqueId(&id));
  bootstrap_->broadcast_bytes(&id, sizeof id, 0);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // every call returns at once; wait_accepted polls with a timeout
  KITE_NCCL_CHECK(comm_, ncclCommInitRankConfig(&comm_, bootstrap_->world_size(), id,
                                                bootstrap_->rank(), &config));
  wait_accepted("ncclCommInitRankConfig");
}

NcclCommunicator::~NcclCommunicator() {
  if (comm_ != nullptr) {
    // A non-blocking communicator finishes its queued work in ncclCommFinalize, which may
    // answer ncclInProgress: poll until it is done, then free it. On an error or after the
    // timeout, abort instead (a destructor cannot throw).
    ncclResult_t state = ncclCommFinalize(comm_);
    const auto start = Clock::now();
    while (state == ncclInProgress &&
           std::chrono::duration<double>(Clock::now() - start).count() < timeout_seconds_) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
      if (ncclCommGetAsyncError(comm_, &state) != ncclSuccess) state = ncclInternalError;
    }
    if (state == ncclSuccess)
      ncclCommDestroy(comm_);
    else
      ncclCommAbort(comm_);
  }
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

void NcclCommunicator::wait_accepted(const char* what) {
  const auto start = Clock::now();
  for (;;) {
    ncclResult_t state = ncclSuccess;
    KITE_NCCL_CHECK(comm_, ncclCommGetAsyncError(comm_, &state));
    if (state == ncclSuccess) return;
    if (state != ncclInProgress) {
      ncclCommAbort(comm_);
      comm_ = nullptr;
      throw_nccl_error(state, nullptr, what, __FILE__, __LINE__);
    }
    if (std::chrono::duration<double>(Clock::now() - start).count() > timeout_seconds_) {
      ncclCommAbort(comm_);
      comm_ = nullptr;
      KITE_FAIL("NCCL: " << what << " on rank " << rank() << " did not complete within "
                         << timeout_seconds_ << " s (KITE_NCCL_TIMEOUT_S)");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

void NcclCommunicator::wait_event(cudaEvent_t done, const std::string& what) {
  const auto start = Clock::now();
  for (;;) {
    const cudaError_t status = cudaEventQuery(done);
    if (status == cudaSuccess) return;
    if (status != cudaErrorNotReady) CUDA_CHECK(status);
    ncclResult_t state = ncclSuccess;
    KITE_NCCL_CHECK(comm_, ncclCommGetAsyncError(comm_, &state));
    if (state != ncclSuccess && state != ncclInProgress) {
      ncclCommAbort(comm_);
      comm_ = nullptr;
      throw_nccl_error(state, nullptr, what.c_str(), __FILE__, __LINE__);
    }
    if (std::chrono::duration<double>(Clock::now() - start).count() > timeout_seconds_) {
      ncclCommAbort(comm_);
      comm_ = nullptr;
      KITE_FAIL("NCCL: " << what << " on rank " << rank() << " did not finish within "
                         << timeout_seconds_
                         << " s: another rank failed or stopped calling the collective "
                            "(KITE_NCCL_TIMEOUT_S)");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

void NcclCommunicator::check_tensor(const Tensor& tensor, const char* what) const {
  KITE_CHECK(comm_ != nullptr, "NCCL " << what << ": the communicator was aborted after an error");
  KITE_CHECK(tensor.defined(), "NCCL " << what << ": undefined tensor");
  KITE_CHECK(tensor.device() == device_, "NCCL " << what << ": tensor on " << tensor.device().str()
                                                 << " but this rank uses " << device_.str());
  KITE_CHECK(tensor.is_contiguous(),
             "NCCL " << what << ": the tensor must be contiguous, got " << describe(tensor));
}

std::unique_ptr<CommWork> NcclCommunicator::all_reduce_async(const Tensor& tensor, ReduceOp op) {
  if (tensor.defined() && tensor.device().is_cpu()) return bootstrap_->all_reduce_async(tensor, op);
  check_tensor(tensor, "all_reduce");
  cudaEvent_t ready = nullptr, done = nullptr;
  CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
  // The communication stream starts after what the caller's stream has queued (the gradients).
  CUDA_CHECK(cudaEventRecord(ready, current_stream()));
  CUDA_CHECK(cudaStreamWaitEvent(stream_, ready, 0));
  CUDA_CHECK(cudaEventDestroy(ready));
  void* data = tensor.raw_data();
  KITE_NCCL_CHECK(comm_, ncclAllReduce(data, data, static_cast<size_t>(tensor.numel()),
                                       nccl_type(tensor.dtype()), nccl_op(op), comm_, stream_));
  wait_accepted("ncclAllReduce");
  CUDA_CHECK(cudaEventRecord(done, stream_));
  std::ostringstream what;
  what << "ncclAllReduce of " << describe(tensor);
  return std::make_unique<NcclWork>(*this, done, what.str());
}

void NcclCommunicator::broadcast(const Tensor& tensor, int root) {
  if (tensor.defined() && tensor.device().is_cpu()) return bootstrap_->broadcast(tensor, root);
  check_tensor(tensor, "broadcast");
  cudaEvent_t ready = nullptr, done = nullptr;
  CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
  CUDA_CHECK(cudaEventRecord(ready, current_stream()));
  CUDA_CHECK(cudaStreamWaitEvent(stream_, ready, 0));
  CUDA_CHECK(cudaEventDestroy(ready));
  void* data = tensor.raw_data();
  KITE_NCCL_CHECK(comm_, ncclBroadcast(data, data, static_cast<size_t>(tensor.numel()),
                                       nccl_type(tensor.dtype()), root, comm_, stream_));
  wait_accepted("ncclBroadcast");
  CUDA_CHECK(cudaEventRecord(done, stream_));
  NcclWork work(*this, done, "ncclBroadcast of " + describe(tensor));
  work.wait();
}

void NcclCommunicator::barrier() {
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  bootstrap_->barrier();
}

void NcclCommunicator::broadcast_bytes(void* data, size_t bytes, int root) {
  bootstrap_->broadcast_bytes(data, bytes, root);
}

void NcclCommunicator::all_reduce_host(double* values, int64_t count, ReduceOp op) {
  bootstrap_->all_reduce_host(values, count, op);
}

void NcclCommunicator::abort(const std::string& message, int exit_code) {
  if (comm_ != nullptr) ncclCommAbort(comm_);
  comm_ = nullptr;
  bootstrap_->abort(message, exit_code);
  std::_Exit(exit_code);  // not reached: the bootstrap's abort ends the job
}

namespace {
// Registers the factory when kite_cuda is linked (whole-archive, like the kernels).
struct RegisterNccl {
  RegisterNccl() {
    register_nccl_factory([](std::shared_ptr<Communicator> bootstrap, Device device) {
      return std::make_shared<NcclCommunicator>(std::move(bootstrap), device);
    });
  }
} register_nccl;
}  // namespace

}  // namespace kite::cuda

#endif  // KITE_HAVE_NCCL
