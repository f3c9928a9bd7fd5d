// One check macro per CUDA library: each wraps a call, and when it does not succeed throws
// kite::Error naming the status, the call as written, and the file and line:
//   CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost));
//   -> "CUDA error cudaErrorInvalidValue (invalid argument) in cudaMemcpy(dst, src, n, ...)
//       at cuda/backend.cpp:42"
// NCCL has its own, KITE_NCCL_CHECK, in nccl_communicator.h (the only file that calls NCCL).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand.h>

namespace kite::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file,
                                   int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file,
                                     int line);
[[noreturn]] void throw_curand_error(curandStatus_t status, const char* call, const char* file,
                                     int line);

// The checks are functions, not macro bodies, so that `call` is evaluated exactly once.
inline void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) throw_cuda_error(status, call, file, line);
}
inline void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) throw_cublas_error(status, call, file, line);
}
inline void check_curand(curandStatus_t status, const char* call, const char* file, int line) {
  if (status != CURAND_STATUS_SUCCESS) throw_curand_error(status, call, file, line);
}

}  // namespace kite::cuda

#define CUDA_CHECK(call) ::kite::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define CUBLAS_CHECK(call) ::kite::cuda::check_cublas((call), #call, __FILE__, __LINE__)
#define CURAND_CHECK(call) ::kite::cuda::check_curand((call), #call, __FILE__, __LINE__)

// After a kernel launch: launch errors (bad configuration, no kernel image for this GPU)
// surface through cudaGetLastError, not through the <<<>>> expression itself.
#define KITE_CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
