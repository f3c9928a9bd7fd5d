// CUDA kernels of the LU-based log-determinant and inverse (ops/det_kernels.h), with the
// CPU's own factorisation steps and solves (ops/math/lu.h).
//
// Small matrices (the flow's d x d Jacobians, d = 32): a block per matrix, held in shared
// memory. For each column k, thread 0 picks the pivot row, the threads swap the two rows and
// then eliminate a row each; for the inverse, thread j solves A x = e_j. Each element sees
// the serial loop's arithmetic in the serial order. Matrices too large for shared memory:
// one thread per matrix running the serial factorisation on a copy in global memory (simple,
// slow: cuBLAS getrfBatched would be the next step there).
#include <algorithm>

#include "cuda/kernels.h"
#include "cuda/launch.cuh"
#include "engine/dtype.h"
#include "ops/math/lu.h"

namespace kite::cuda {
namespace {

constexpr int kLuBlockSize = 64;  // threads (matrices) per block: each thread does O(n^3) work

template <class T>
__global__ void lu_kernel_impl(const T* a, int64_t batch, int64_t n, T* lu_workspace,
                               int64_t* pivot_workspace, T* column_workspace, T* logabsdet,
                               T* inverse, int64_t* singular) {
  for (int64_t b = first_index(); b < batch; b += grid_stride()) {
    T* lu = lu_workspace + b * n * n;
    int64_t* pivots = pivot_workspace + b * n;
    for (int64_t i = 0; i < n * n; ++i) lu[i] = a[b * n * n + i];
    const T log_abs_det = math::lu_factor(lu, n, pivots);
    if (logabsdet != nullptr) logabsdet[b] = log_abs_det;
    if (inverse == nullptr) continue;
    if (!isfinite(log_abs_det)) {
      *singular = 1;  // every writer writes the same value
      continue;
    }
    // Column j of the inverse solves A x = e_j.
    T* column = column_workspace + b * n;
    T* inv = inverse + b * n * n;
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t i = 0; i < n; ++i) column[i] = i == j ? T(1) : T(0);
      math::lu_solve(lu, n, pivots, column);
      for (int64_t i = 0; i < n; ++i) inv[i * n + j] = column[i];
    }
  }
}

// Shared memory of lu_block_kernel: n pivots, the matrix, and with the inverse n columns.
int64_t lu_block_shared_bytes(int64_t n, size_t element_size, bool with_inverse) {
  return n * int64_t{sizeof(int64_t)} +
         (with_inverse ? 2 : 1) * n * n * static_cast<int64_t>(element_size);
}
constexpr int64_t kMaxSharedBytes = 48 * 1024;  // without opting in to more

template <class T>
__global__ void lu_block_kernel(const T* a, int64_t batch, int64_t n, T* logabsdet, T* inverse,
                                int64_t* singular) {
  extern __shared__ int64_t shared_words[];
  int64_t* pivots = shared_words;                  // n
  T* lu = reinterpret_cast<T*>(shared_words + n);  // n x n
  T* columns = lu + n * n;                         // columns[i * n + j]: solution j, row i
  __shared__ T log_abs_det;
  __shared__ bool zero_pivot;
  __shared__ int64_t pivot_row;
  for (int64_t b = blockIdx.x; b < batch; b += gridDim.x) {
    for (int64_t e = threadIdx.x; e < n * n; e += blockDim.x) lu[e] = a[b * n * n + e];
    if (threadIdx.x == 0) {
      log_abs_det = 0;
      zero_pivot = false;
    }
    __syncthreads();
    for (int64_t k = 0; k < n; ++k) {
      if (threadIdx.x == 0) {
        pivot_row = math::lu_pivot_row(lu, n, k);
        pivots[k] = pivot_row;
      }
      __syncthreads();
      const int64_t p = pivot_row;
      if (p != k)
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) math::lu_swap(lu, n, k, p, j);
      __syncthreads();
      const T pivot = lu[k * n + k];  // the same value in every thread: a uniform break
      if (pivot == T(0)) {
        if (threadIdx.x == 0) zero_pivot = true;
        break;
      }
      if (threadIdx.x == 0) log_abs_det += k_log(k_abs(pivot));
      for (int64_t i = k + 1 + threadIdx.x; i < n; i += blockDim.x)
        math::lu_eliminate_row(lu, n, k, i, pivot);
      __syncthreads();
    }
    __syncthreads();
    const T result = zero_pivot ? -T(1) / T(0) : log_abs_det;
    if (threadIdx.x == 0 && logabsdet != nullptr) logabsdet[b] = result;
    if (inverse != nullptr) {
      if (!isfinite(result)) {
        if (threadIdx.x == 0) *singular = 1;
      } else {
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
          for (int64_t i = 0; i < n; ++i) columns[i * n + j] = i == j ? T(1) : T(0);
          math::lu_solve(lu, n, pivots, columns + j, n);
          for (int64_t i = 0; i < n; ++i) inverse[b * n * n + i * n + j] = columns[i * n + j];
        }
      }
    }
    __syncthreads();  // the shared matrix is rewritten by the next one
  }
}

}  // namespace

void lu_kernel(const Tensor& a, const Tensor& logabsdet, const Tensor& inverse) {
  const int64_t batch = a.size(0), n = a.size(1);
  if (batch == 0) return;
  DeviceGuard guard(a.device().index);
  const cudaStream_t stream = current_stream();
  visit_floating(a.dtype(), "logabsdet", [&](auto tag) {
    using T = decltype(tag);
    Tensor singular = Tensor::empty({1}, DType::Int64, a.device());
    CUDA_CHECK(cudaMemsetAsync(singular.raw_data(), 0, sizeof(int64_t), stream));
    const int64_t shared_bytes = lu_block_shared_bytes(n, sizeof(T), inverse.defined());
    if (shared_bytes <= kMaxSharedBytes) {
      const int threads =
          static_cast<int>(std::clamp<int64_t>(ceil_div(n, kWarpSize), 1, 8)) * kWarpSize;
      lu_block_kernel<<<block_per_item(batch), threads, shared_bytes, stream>>>(
          a.data_ptr<T>(), batch, n, logabsdet.defined() ? logabsdet.data_ptr<T>() : nullptr,
          inverse.defined() ? inverse.data_ptr<T>() : nullptr, singular.data_ptr<int64_t>());
      KITE_CUDA_CHECK_LAUNCH();
    } else {
      Tensor lu = Tensor::empty({batch, n, n}, a.dtype(), a.device());
      Tensor pivots = Tensor::empty({batch, n}, DType::Int64, a.device());
      Tensor column = Tensor::empty({batch, n}, a.dtype(), a.device());
      const int grid = static_cast<int>(std::min<int64_t>(ceil_div(batch, kLuBlockSize), 65535));
      lu_kernel_impl<<<grid, kLuBlockSize, 0, stream>>>(
          a.data_ptr<T>(), batch, n, lu.data_ptr<T>(), pivots.data_ptr<int64_t>(),
          column.data_ptr<T>(), logabsdet.defined() ? logabsdet.data_ptr<T>() : nullptr,
          inverse.defined() ? inverse.data_ptr<T>() : nullptr, singular.data_ptr<int64_t>());
      KITE_CUDA_CHECK_LAUNCH();
    }
    if (!inverse.defined()) return;
    int64_t found_singular = 0;
    CUDA_CHECK(cudaMemcpyAsync(&found_singular, singular.raw_data(), sizeof(int64_t),
                               cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
    KITE_CHECK(found_singular == 0,
               "inverse: matrix is singular (a zero pivot in its LU factorisation)");
  });
}

}  // namespace kite::cuda
