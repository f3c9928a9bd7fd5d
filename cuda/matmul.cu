// CUDA kernel of the batched matrix product (ops/linalg_kernels.h) through cuBLAS.
//
// Transposed views cost nothing: matrix_layout() (shared with the CPU) turns a view whose row
// stride is 1 into a GEMM transpose flag. The batch goes to one strided-batched GEMM when the
// batch entries of each operand are evenly spaced in memory (the usual case, including a
// broadcast operand with stride 0); other batch layouts fall back to one GEMM per entry.
// As on the CPU, when B is shared by the whole batch and A's batch entries stack its rows,
// [batch, m, k] @ [k, n] becomes a single [batch * m, k] @ [k, n] GEMM.
// With a bias, C is first filled with the bias row and the GEMM adds onto it (beta = 1).
#include <vector>

#include "cuda/blas.h"
#include "cuda/kernels.h"
#include "cuda/launch.cuh"
#include "engine/dtype.h"

namespace kite::cuda {
namespace {

// Element offset of every batch entry (row-major over the batch axes).
std::vector<int64_t> batch_offsets(const Tensor& t) {
  std::vector<int64_t> offsets{0};
  for (int64_t d = 0; d + 2 < t.dim(); ++d) {
    std::vector<int64_t> next;
    next.reserve(offsets.size() * t.shape()[d]);
    for (int64_t base : offsets)
      for (int64_t i = 0; i < t.shape()[d]; ++i) next.push_back(base + i * t.strides()[d]);
    offsets = std::move(next);
  }
  return offsets;
}

// Every batch entry of t is the same matrix.
bool shared_across_batch(const Tensor& t) {
  for (int64_t d = 0; d + 2 < t.dim(); ++d)
    if (t.shape()[d] > 1 && t.strides()[d] != 0) return false;
  return true;
}

// The batch axes of t continue its rows: entry b's row r is row b * m + r of one matrix with
// row stride ld.
bool rows_stack(const Tensor& t, int64_t ld) {
  int64_t expected = ld * t.shape()[t.dim() - 2];
  for (int64_t d = t.dim() - 3; d >= 0; --d) {
    if (t.shape()[d] > 1 && t.strides()[d] != expected) return false;
    expected *= t.shape()[d];
  }
  return true;
}

// The common step of evenly spaced offsets, or false.
bool even_step(const std::vector<int64_t>& offsets, int64_t& step) {
  step = offsets.size() > 1 ? offsets[1] - offsets[0] : 0;
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] - offsets[i - 1] != step) return false;
  return true;
}

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

  const MatrixLayout la = matrix_layout(a), lb = matrix_layout(b);
  KITE_CHECK(la.ok && lb.ok, "matmul: kernel given operands that are not GEMM-compatible: "
                                 << describe(a) << " strides " << shape_str(a.strides()) << " and "
                                 << describe(b) << " strides " << shape_str(b.strides()));
  const T* a_data = a.data_ptr<T>();
  const T* b_data = b.data_ptr<T>();

  if (batch == 1 || (!la.transposed && shared_across_batch(b) && rows_stack(a, la.ld))) {
    gemm_strided_batched<T>(la.transposed, lb.transposed, batch * m, n, k, T(1), a_data, la.ld, 0,
                            b_data, lb.ld, 0, beta, c, n, 0, 1);
    return;
  }
  const std::vector<int64_t> a_offsets = batch_offsets(a), b_offsets = batch_offsets(b);
  int64_t a_step = 0, b_step = 0;
  if (even_step(a_offsets, a_step) && even_step(b_offsets, b_step)) {
    gemm_strided_batched<T>(la.transposed, lb.transposed, m, n, k, T(1), a_data, la.ld, a_step,
                            b_data, lb.ld, b_step, beta, c, n, m * n, batch);
    return;
  }
  for (int64_t i = 0; i < batch; ++i)
    gemm_strided_batched<T>(la.transposed, lb.transposed, m, n, k, T(1), a_data + a_offsets[i],
                            la.ld, 0, b_data + b_offsets[i], lb.ld, 0, beta, c + i * m * n, n, 0,
                            1);
}

}  // namespace

void matmul_kernel(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out) {
  if (out.numel() == 0) return;
  DeviceGuard guard(out.device().index);
  visit_floating(out.dtype(), "matmul",
                 [&](auto tag) { matmul_typed<decltype(tag)>(a, b, bias, out); });
}

}  // namespace kite::cuda
