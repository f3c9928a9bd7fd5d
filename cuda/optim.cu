// CUDA kernels of the fused optimizer updates (ops/optim_kernels_dispatch.h): one thread per
// parameter element running the CPU's per-element functors (ops/math/optim.h), and the two
// passes of the global gradient-norm clip.
//
// The sum of squares is reduced in two fixed passes (a partial sum per block, then one block
// over the partials) whose shape depends only on the element count, so it is reproducible.
#include "cuda/block_reduce.cuh"
#include "cuda/kernels.h"
#include "engine/dtype.h"
#include "ops/math/optim.h"
#include "ops/math/reduce.h"

namespace kite::cuda {
namespace {

constexpr int64_t kMaxPartialBlocks = 1024;
constexpr int64_t kElementsPerThread = 8;

template <class T>
__global__ void sgd_kernel(SgdUpdate<T> update, T* param, const T* grad, T* buffer, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    if (buffer != nullptr)
      update(param[i], grad[i], buffer[i]);
    else
      update(param[i], grad[i]);
  }
}

template <class T>
__global__ void adam_kernel(AdamUpdate<T> update, T* param, const T* grad, T* exp_avg,
                            T* exp_avg_sq, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride())
    update(param[i], grad[i], exp_avg[i], exp_avg_sq[i]);
}

// Block b sums the squares of elements b * blockDim + t + k * gridDim * blockDim.
template <class T>
__global__ void sum_of_squares_partial_kernel(const T* x, int64_t n, double* partial) {
  double acc = 0.0;
  for (int64_t i = first_index(); i < n; i += grid_stride()) acc += squared_as_double(x[i]);
  acc = block_reduce(acc, math::SumCombine{}, 0.0);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// One block: the partial sums, in a fixed order, into *total.
__global__ void sum_partials_kernel(const double* partial, int64_t count, double* total) {
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) acc += partial[i];
  acc = block_reduce(acc, math::SumCombine{}, 0.0);
  if (threadIdx.x == 0) *total = acc;
}

template <class T>
__global__ void scale_kernel_impl(T* x, int64_t n, T factor) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) x[i] *= factor;
}

}  // namespace

void sgd_step_kernel(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                     const SgdScalars& scalars) {
  const int64_t n = param.numel();
  if (n == 0) return;
  DeviceGuard guard(param.device().index);
  visit_floating(param.dtype(), "sgd_step_", [&](auto tag) {
    using T = decltype(tag);
    T* buffer = momentum_buffer.defined() ? momentum_buffer.data_ptr<T>() : nullptr;
    sgd_kernel<<<grid_for(n), kBlockSize, 0, current_stream()>>>(
        SgdUpdate<T>(scalars), param.data_ptr<T>(), grad.data_ptr<T>(), buffer, n);
    KITE_CUDA_CHECK_LAUNCH();
  });
}

void adam_step_kernel(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                      const Tensor& exp_avg_sq, const AdamScalars& scalars) {
  const int64_t n = param.numel();
  if (n == 0) return;
  DeviceGuard guard(param.device().index);
  visit_floating(param.dtype(), "adam_step_", [&](auto tag) {
    using T = decltype(tag);
    adam_kernel<<<grid_for(n), kBlockSize, 0, current_stream()>>>(
        AdamUpdate<T>(scalars), param.data_ptr<T>(), grad.data_ptr<T>(), exp_avg.data_ptr<T>(),
        exp_avg_sq.data_ptr<T>(), n);
    KITE_CUDA_CHECK_LAUNCH();
  });
}

double sum_of_squares_kernel(const Tensor& x) {
  const int64_t n = x.numel();
  if (n == 0) return 0.0;
  DeviceGuard guard(x.device().index);
  const int64_t blocks =
      std::min(kMaxPartialBlocks, ceil_div(n, int64_t{kBlockSize} * kElementsPerThread));
  // [0, blocks): partial sums; [blocks]: the total.
  Tensor scratch = Tensor::empty({blocks + 1}, DType::Float64, x.device());
  double* partial = scratch.data_ptr<double>();
  const cudaStream_t stream = current_stream();
  visit_floating(x.dtype(), "clip_grad_norm_", [&](auto tag) {
    using T = decltype(tag);
    sum_of_squares_partial_kernel<<<static_cast<int>(blocks), kBlockSize, 0, stream>>>(
        x.data_ptr<T>(), n, partial);
    KITE_CUDA_CHECK_LAUNCH();
  });
  sum_partials_kernel<<<1, kBlockSize, 0, stream>>>(partial, blocks, partial + blocks);
  KITE_CUDA_CHECK_LAUNCH();
  double total = 0.0;
  CUDA_CHECK(
      cudaMemcpyAsync(&total, partial + blocks, sizeof(double), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return total;
}

void scale_kernel(const Tensor& x, double factor) {
  const int64_t n = x.numel();
  if (n == 0) return;
  DeviceGuard guard(x.device().index);
  visit_floating(x.dtype(), "clip_grad_norm_", [&](auto tag) {
    using T = decltype(tag);
    scale_kernel_impl<<<grid_for(n), kBlockSize, 0, current_stream()>>>(x.data_ptr<T>(), n,
                                                                        static_cast<T>(factor));
    KITE_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace kite::cuda
