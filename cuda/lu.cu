// CUDA kernel of the LU-based log-determinant and inverse (ops/det_kernels.h): one thread per
// matrix running the CPU's own factorisation and solves (ops/math/lu.h) on a copy in global
// memory. Simple and exact in its agreement with the CPU; fast enough for the small matrices
// the exact log-determinant is used on, not for large ones (cuBLAS getrfBatched would be the
// next step there).
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

}  // namespace

void lu_kernel(const Tensor& a, const Tensor& logabsdet, const Tensor& inverse) {
  const int64_t batch = a.size(0), n = a.size(1);
  if (batch == 0) return;
  DeviceGuard guard(a.device().index);
  const cudaStream_t stream = current_stream();
  visit_floating(a.dtype(), "logabsdet", [&](auto tag) {
    using T = decltype(tag);
    Tensor lu = Tensor::empty({batch, n, n}, a.dtype(), a.device());
    Tensor pivots = Tensor::empty({batch, n}, DType::Int64, a.device());
    Tensor column = Tensor::empty({batch, n}, a.dtype(), a.device());
    Tensor singular = Tensor::empty({1}, DType::Int64, a.device());
    CUDA_CHECK(cudaMemsetAsync(singular.raw_data(), 0, sizeof(int64_t), stream));
    const int grid = static_cast<int>(std::min<int64_t>(ceil_div(batch, kLuBlockSize), 65535));
    lu_kernel_impl<<<grid, kLuBlockSize, 0, stream>>>(
        a.data_ptr<T>(), batch, n, lu.data_ptr<T>(), pivots.data_ptr<int64_t>(),
        column.data_ptr<T>(), logabsdet.defined() ? logabsdet.data_ptr<T>() : nullptr,
        inverse.defined() ? inverse.data_ptr<T>() : nullptr, singular.data_ptr<int64_t>());
    KITE_CUDA_CHECK_LAUNCH();
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
