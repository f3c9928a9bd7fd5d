// libkite_fake_cuda.so: a stand-in for the CUDA runtime and cuBLAS (cublasLt too), for measuring
// the host side of kite's CUDA path on a machine without a GPU (bench_op_overhead, bench_gemm):
//   LD_PRELOAD=build/apps/libkite_fake_cuda.so build/apps/bench_op_overhead --device cuda
// Preloaded, its functions take the place of the real ones: there is one device (named
// "fake"), device memory is host memory, copies are memcpy, kernel launches and GEMMs do
// nothing, and events read the host clock. The results of any computation are therefore
// garbage; what remains real is everything kite does on the host around each call (checks,
// shapes, the caching allocator, dispatch, launch geometry), which is what it measures.
//
// It also counts the calls made to it (kite_fake_cuda_calls and kite_fake_cuda_device_queries,
// at the end), which bench_op_overhead reports per op.
//
// Only the calls that the ops' host paths and the benchmarks make are here. A program that
// calls anything else reaches the real runtime, which fails without a driver as it would
// anyway. Never linked into anything: it exists only to be preloaded.
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

namespace {

thread_local int current_device = 0;

// Calls into the stand-in made by this thread, read through the two functions at the end
// (bench_op_overhead finds them with dlsym). Every entry point counts as a call; a kernel
// launch, which nvcc's code makes as three calls, counts once. Those that ask or change the
// current device or ask for a device attribute also count as device queries: a real runtime
// spends host time of its own on each, on every op that makes one.
thread_local long calls = 0;
thread_local long device_queries = 0;
void count_call() { ++calls; }
void count_device_query() {
  ++calls;
  ++device_queries;
}

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
  count_device_query();
  *count = 1;
  return kOk;
}
cudaError_t cudaGetDevice(int* device) {
  count_device_query();
  *device = current_device;
  return kOk;
}
cudaError_t cudaSetDevice(int device) {
  count_device_query();
  current_device = device;
  return kOk;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr, int) {
  count_device_query();
  *value = 132;  // an H100/H200's multiprocessor count, for launch geometry
  return kOk;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int) {
  count_device_query();
  std::memset(prop, 0, sizeof *prop);
  std::strcpy(prop->name, "fake (libkite_fake_cuda.so: host cost only)");
  prop->totalGlobalMem = size_t{1} << 34;
  prop->major = 9;
  prop->multiProcessorCount = 132;
  return kOk;
}
cudaError_t cudaDeviceSynchronize() {
  count_call();
  return kOk;
}
cudaError_t cudaGetLastError() {
  count_call();
  return kOk;
}
cudaError_t cudaPeekAtLastError() {
  count_call();
  return kOk;
}
const char* cudaGetErrorName(cudaError_t) {
  count_call();
  return "fake";
}
const char* cudaGetErrorString(cudaError_t) {
  count_call();
  return "fake CUDA runtime";
}

// ---- memory: host memory ----
cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  count_call();
  *ptr = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  return *ptr != nullptr ? kOk : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* ptr) {
  count_call();
  std::free(ptr);
  return kOk;
}
cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned) {
  count_call();
  *ptr = std::malloc(bytes);
  return *ptr != nullptr ? kOk : cudaErrorMemoryAllocation;
}
cudaError_t cudaFreeHost(void* ptr) {
  count_call();
  std::free(ptr);
  return kOk;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  count_call();
  *free_bytes = *total_bytes = size_t{1} << 34;
  return kOk;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  count_call();
  std::memcpy(dst, src, bytes);
  return kOk;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind,
                            cudaStream_t) {
  count_call();
  std::memcpy(dst, src, bytes);
  return kOk;
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) {
  count_call();
  std::memset(dst, value, bytes);
  return kOk;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) {
  count_call();
  return kOk;
}

// ---- events: the host clock ----
cudaError_t cudaEventCreate(cudaEvent_t* event) {
  count_call();
  *event = reinterpret_cast<cudaEvent_t>(new FakeEvent);
  return kOk;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  return cudaEventCreate(event);
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  count_call();
  delete reinterpret_cast<FakeEvent*>(event);
  return kOk;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  count_call();
  reinterpret_cast<FakeEvent*>(event)->ms = now_ms();
  return kOk;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) {
  count_call();
  return kOk;
}
cudaError_t cudaEventQuery(cudaEvent_t) {
  count_call();
  return kOk;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  count_call();
  *ms = static_cast<float>(reinterpret_cast<FakeEvent*>(end)->ms -
                           reinterpret_cast<FakeEvent*>(start)->ms);
  return kOk;
}

// ---- kernel launches (what nvcc's <<<...>>> calls): accepted, not run; one launch counts
// as one call ----
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
  count_call();
  return kOk;
}

// ---- cuBLAS: the calls kite makes, doing nothing ----
cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  count_call();
  *handle = reinterpret_cast<cublasHandle_t>(new int);
  return kBlasOk;
}
cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  count_call();
  delete reinterpret_cast<int*>(handle);
  return kBlasOk;
}
cublasStatus_t cublasSetStream_v2(cublasHandle_t, cudaStream_t) {
  count_call();
  return kBlasOk;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) {
  count_call();
  return kBlasOk;
}
cublasStatus_t cublasSgemm_v2(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                              const float*, const float*, int, const float*, int, const float*,
                              float*, int) {
  count_call();
  return kBlasOk;
}
cublasStatus_t cublasDgemm_v2(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                              const double*, const double*, int, const double*, int, const double*,
                              double*, int) {
  count_call();
  return kBlasOk;
}
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t, cublasOperation_t, cublasOperation_t, int,
                                         int, int, const float*, const float*, int, long long,
                                         const float*, int, long long, const float*, float*, int,
                                         long long, int) {
  count_call();
  return kBlasOk;
}
cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t, cublasOperation_t, cublasOperation_t, int,
                                         int, int, const double*, const double*, int, long long,
                                         const double*, int, long long, const double*, double*, int,
                                         long long, int) {
  count_call();
  return kBlasOk;
}

// ---- cublasLt: the calls kite's plans make (cuda/gemm_plan.cpp), doing nothing; the
// heuristic offers one algorithm that needs no workspace ----
cublasStatus_t cublasLtCreate(cublasLtHandle_t* handle) {
  count_call();
  *handle = reinterpret_cast<cublasLtHandle_t>(new int);
  return kBlasOk;
}
cublasStatus_t cublasLtMatmulDescInit_internal(cublasLtMatmulDesc_t, size_t, cublasComputeType_t,
                                               cudaDataType_t) {
  count_call();
  return kBlasOk;
}
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t, cublasLtMatmulDescAttributes_t,
                                              const void*, size_t) {
  count_call();
  return kBlasOk;
}
cublasStatus_t cublasLtMatrixLayoutInit_internal(cublasLtMatrixLayout_t, size_t, cudaDataType,
                                                 uint64_t, uint64_t, int64_t) {
  count_call();
  return kBlasOk;
}
cublasStatus_t cublasLtMatmulPreferenceInit_internal(cublasLtMatmulPreference_t, size_t) {
  count_call();
  return kBlasOk;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t,
                                                    cublasLtMatmulPreferenceAttributes_t,
                                                    const void*, size_t) {
  count_call();
  return kBlasOk;
}
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t,
                                              cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                              cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                              cublasLtMatmulPreference_t, int requested,
                                              cublasLtMatmulHeuristicResult_t results[],
                                              int* found) {
  count_call();
  *found = requested > 0 ? 1 : 0;
  if (*found) results[0] = cublasLtMatmulHeuristicResult_t{};  // state success, no workspace
  return kBlasOk;
}
cublasStatus_t cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t, const void*, const void*,
                              cublasLtMatrixLayout_t, const void*, cublasLtMatrixLayout_t,
                              const void*, const void*, cublasLtMatrixLayout_t, void*,
                              cublasLtMatrixLayout_t, const cublasLtMatmulAlgo_t*, void*, size_t,
                              cudaStream_t) {
  count_call();
  return kBlasOk;
}

// ---- the counters (not part of CUDA) ----
long kite_fake_cuda_calls() { return calls; }
long kite_fake_cuda_device_queries() { return device_queries; }

}  // extern "C"
