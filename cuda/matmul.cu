// CUDA kernel of the batched matrix product (ops/linalg_kernels.h) through cuBLAS.
//
// Transposed views cost nothing: matrix_layout() (shared with the CPU) turns a view whose row
// stride is 1 into a GEMM transpose flag. The batch goes to one strided-batched GEMM when the
// batch entries of each operand are evenly spaced in memory (the usual case, including a
// broadcast operand with stride 0); other batch layouts fall back to one GEMM per entry.
// As on the CPU, when B is shared by the whole batch and A's batch entries stack its rows,
// [batch, m, k] @ [k, n] becomes a single [batch * m, k] @ [k, n] GEMM.
// With a bias, C is first filled with the bias row and the GEMM adds onto it (beta = 1).
#include <optional>

#include "cuda/blas.h"
#include "cuda/kernels.h"
#include "cuda/launch.cuh"
#include "engine/dtype.h"

namespace kite::cuda {
namespace {

// c[r, j] = bias[j * bias_stride] for rows r < rows.
template <class T>
__global__ void fill_bias_rows_kernel(const T* bias, int64_t bias_stride, int64_t rows, int64_t n,
                                      T* c) {
  for (int64_t i = first_index(); i < rows * n; i += grid_stride())
    c[i] = bias[(i % n) * bias_stride];
}

template <class T>
__global__ void zero_kernel(T* out, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) out[i] = T(0);
}

template <class T>
void matmul_typed(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out) {
  const int64_t d = out.dim();
  const int64_t m = out.shape()[d - 2], n = out.shape()[d - 1], k = a.shape()[a.dim() - 1];
  const int64_t batch = out.numel() / (m * n);
  T* c = out.data_ptr<T>();
  const cudaStream_t stream = current_stream();

  T beta = 0;
  if (bias.defined()) {
    fill_bias_rows_kernel<<<grid_for(out.numel()), kBlockSize, 0, stream>>>(
        bias.data_ptr<T>(), bias.strides()[0], batch * m, n, c);
    KITE_CUDA_CHECK_LAUNCH();
    beta = 1;
  }
  if (k == 0) {
    if (!bias.defined()) {
      zero_kernel<<<grid_for(out.numel()), kBlockSize, 0, stream>>>(c, out.numel());
      KITE_CUDA_CHECK_LAUNCH();
    }
    return;
  }

  const BatchedGemmPlan plan = plan_batched_gemm(a, b, out);
  const T* a_data = a.data_ptr<T>();
  const T* b_data = b.data_ptr<T>();
  const bool ta = plan.a.transposed, tb = plan.b.transposed;
  const int64_t lda = plan.a.ld, ldb = plan.b.ld;
  if (plan.folded) {
    gemm_strided_batched<T>(ta, tb, batch * m, n, k, T(1), a_data, lda, 0, b_data, ldb, 0, beta, c,
                            n, 0, 1);
    return;
  }
  const std::optional<int64_t> a_step = even_step(plan.a_offsets),
                               b_step = even_step(plan.b_offsets);
  if (a_step && b_step) {
    gemm_strided_batched<T>(ta, tb, m, n, k, T(1), a_data, lda, *a_step, b_data, ldb, *b_step, beta,
                            c, n, m * n, batch);
    return;
  }
  for (int64_t i = 0; i < batch; ++i)
    gemm_strided_batched<T>(ta, tb, m, n, k, T(1), a_data + plan.a_offsets[i], lda, 0,
                            b_data + plan.b_offsets[i], ldb, 0, beta, c + i * m * n, n, 0, 1);
}

}  // namespace

void matmul_kernel(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out) {
  if (out.numel() == 0) return;
  DeviceGuard guard(out.device().index);
  visit_floating(out.dtype(), "matmul",
                 [&](auto tag) { matmul_typed<decltype(tag)>(a, b, bias, out); });
}

}  // namespace kite::cuda
