// Messages of the check macros (see check.h).
#include "cuda/check.h"

#include "engine/error.h"

namespace kite::cuda {
namespace {

const char* curand_status_name(curandStatus_t status) {
  switch (status) {
    case CURAND_STATUS_SUCCESS:
      return "CURAND_STATUS_SUCCESS";
    case CURAND_STATUS_VERSION_MISMATCH:
      return "CURAND_STATUS_VERSION_MISMATCH";
    case CURAND_STATUS_NOT_INITIALIZED:
      return "CURAND_STATUS_NOT_INITIALIZED";
    case CURAND_STATUS_ALLOCATION_FAILED:
      return "CURAND_STATUS_ALLOCATION_FAILED";
    case CURAND_STATUS_TYPE_ERROR:
      return "CURAND_STATUS_TYPE_ERROR";
    case CURAND_STATUS_OUT_OF_RANGE:
      return "CURAND_STATUS_OUT_OF_RANGE";
    case CURAND_STATUS_LENGTH_NOT_MULTIPLE:
      return "CURAND_STATUS_LENGTH_NOT_MULTIPLE";
    case CURAND_STATUS_DOUBLE_PRECISION_REQUIRED:
      return "CURAND_STATUS_DOUBLE_PRECISION_REQUIRED";
    case CURAND_STATUS_LAUNCH_FAILURE:
      return "CURAND_STATUS_LAUNCH_FAILURE";
    case CURAND_STATUS_PREEXISTING_FAILURE:
      return "CURAND_STATUS_PREEXISTING_FAILURE";
    case CURAND_STATUS_INITIALIZATION_FAILED:
      return "CURAND_STATUS_INITIALIZATION_FAILED";
    case CURAND_STATUS_ARCH_MISMATCH:
      return "CURAND_STATUS_ARCH_MISMATCH";
    case CURAND_STATUS_INTERNAL_ERROR:
      return "CURAND_STATUS_INTERNAL_ERROR";
  }
  return "unknown cuRAND status";
}

}  // namespace

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  // Clears the error if it is not sticky, so that the next unrelated check does not see it.
  cudaGetLastError();
  KITE_FAIL("CUDA error " << cudaGetErrorName(status) << " (" << cudaGetErrorString(status)
                          << ") in " << call << " at " << file << ":" << line);
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  KITE_FAIL("cuBLAS error " << cublasGetStatusName(status) << " (" << cublasGetStatusString(status)
                            << ") in " << call << " at " << file << ":" << line);
}

void throw_curand_error(curandStatus_t status, const char* call, const char* file, int line) {
  KITE_FAIL("cuRAND error " << curand_status_name(status) << " (status " << static_cast<int>(status)
                            << ") in " << call << " at " << file << ":" << line);
}

}  // namespace kite::cuda
