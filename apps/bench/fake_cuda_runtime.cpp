// libkite_fake_cuda.so: a stand-in for the CUDA runtime and cuBLAS, for measuring the host
// side of kite's CUDA path on a machine without a GPU (bench_op_overhead, bench_gemm):
//   LD_PRELOAD=build/apps/libkite_fake_cuda.so build/apps/bench_op_overhead --device cuda
// Preloaded, its functions take the place of the real ones: there is one device (named
// "fake"), device memory is host memory, copies are memcpy, kernel launches and GEMMs do
// nothing, and events read the host clock. The results of any computation are therefore
// garbage; what remains real is everything kite does on the host around each call (checks,
// shapes, the caching allocator, dispatch, launch geometry), which is what it measures.
//
// Only the calls that the ops' host paths and the benchmarks make are here. A program that
// calls anything else reaches the real runtime, which fails without a driver as it would
// anyway. Never linked into anything: it exists only to be preloaded.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

namespace {

thread_local int current_device = 0;

struct FakeEvent {
  double ms = 0;
};

double now_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr cudaError_t kOk = cudaSuccess;
constexpr cublasStatus_t kBlasOk = CUBLAS_STATUS_SUCCESS;

}  // namespace

extern "C" {

// ---- devices ----
cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return kOk;
}
cudaError_t cudaGetDevice(int* device) {
  *device = current_device;
  return kOk;
}
cudaError_t cudaSetDevice(int device) {
  current_device = device;
  return kOk;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr, int) {
  *value = 132;  // an H100/H200's multiprocessor count, for launch geometry
  return kOk;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int) {
  std::memset(prop, 0, sizeof *prop);
  std::strcpy(prop->name, "fake (libkite_fake_cuda.so: host cost only)");
  prop->totalGlobalMem = size_t{1} << 34;
  prop->major = 9;
  prop->multiProcessorCount = 132;
  return kOk;
}
cudaError_t cudaDeviceSynchronize() { return kOk; }
cudaError_t cudaGetLastError() { return kOk; }
cudaError_t cudaPeekAtLastError() { return kOk; }
const char* cudaGetErrorName(cudaError_t) { return "fake"; }
const char* cudaGetErrorString(cudaError_t) { return "fake CUDA runtime"; }

// ---- memory: host memory ----
cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  *ptr = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  return *ptr != nullptr ? kOk : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* ptr) {
  std::free(ptr);
  return kOk;
}
cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned) {
  *ptr = std::malloc(bytes);
  return *ptr != nullptr ? kOk : cudaErrorMemoryAllocation;
}
cudaError_t cudaFreeHost(void* ptr) {
  std::free(ptr);
  return kOk;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  *free_bytes = *total_bytes = size_t{1} << 34;
  return kOk;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  std::memcpy(dst, src, bytes);
  return kOk;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind,
                            cudaStream_t) {
  std::memcpy(dst, src, bytes);
  return kOk;
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  std::memset(dst, value, bytes);
  return kOk;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return kOk; }

// ---- events: the host clock ----
cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = reinterpret_cast<cudaEvent_t>(new FakeEvent);
  return kOk;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  return cudaEventCreate(event);
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete reinterpret_cast<FakeEvent*>(event);
  return kOk;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  reinterpret_cast<FakeEvent*>(event)->ms = now_ms();
  return kOk;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return kOk; }
cudaError_t cudaEventQuery(cudaEvent_t) { return kOk; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  *ms = static_cast<float>(reinterpret_cast<FakeEvent*>(end)->ms -
                           reinterpret_cast<FakeEvent*>(start)->ms);
  return kOk;
}

// ---- kernel launches (what nvcc's <<<...>>> calls): accepted, not run ----
unsigned __cudaPushCallConfiguration(dim3, dim3, size_t, struct CUstream_st*) { return 0; }
cudaError_t __cudaPopCallConfiguration(dim3* grid, dim3* block, size_t* shared_memory, void*) {
  *grid = dim3(1);
  *block = dim3(1);
  *shared_memory = 0;
  return kOk;
}
cudaError_t __cudaGetKernel(cudaKernel_t* kernel, const void* function) {
  *kernel = reinterpret_cast<cudaKernel_t>(const_cast<void*>(function));
  return kOk;
}
cudaError_t __cudaLaunchKernel(cudaKernel_t, dim3, dim3, void**, size_t, cudaStream_t) {
  return kOk;
}

// ---- cuBLAS: the calls kite makes, doing nothing ----
cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  *handle = reinterpret_cast<cublasHandle_t>(new int);
  return kBlasOk;
}
cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  delete reinterpret_cast<int*>(handle);
  return kBlasOk;
}
cublasStatus_t cublasSetStream_v2(cublasHandle_t, cudaStream_t) { return kBlasOk; }
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return kBlasOk; }
cublasStatus_t cublasSgemm_v2(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                              const float*, const float*, int, const float*, int, const float*,
                              float*, int) {
  return kBlasOk;
}
cublasStatus_t cublasDgemm_v2(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                              const double*, const double*, int, const double*, int, const double*,
                              double*, int) {
  return kBlasOk;
}
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t, cublasOperation_t, cublasOperation_t, int,
                                         int, int, const float*, const float*, int, long long,
                                         const float*, int, long long, const float*, float*, int,
                                         long long, int) {
  return kBlasOk;
}
cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t, cublasOperation_t, cublasOperation_t, int,
                                         int, int, const double*, const double*, int, long long,
                                         const double*, int, long long, const double*, double*, int,
                                         long long, int) {
  return kBlasOk;
}

}  // extern "C"
