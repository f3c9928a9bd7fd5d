// Batched matrix product on the CPU: one call of the engine's GEMM per batch entry, or a
// single call when the batch can be folded into the rows.
//
// Transposed views cost nothing: matrix_layout() turns a view whose row stride is 1 into a
// GEMM "trans" flag. Broadcast batch axes (stride 0) just repeat the same matrix pointer.
// Folding: when B is shared by every batch entry (linear layers, x [B, T, in] @ W^T) and A's
// batch axes stack its rows evenly, [batch, m, k] @ [k, n] is one [batch * m, k] @ [k, n]
// GEMM, which is faster than many small ones.
// Threads: GEMM threads itself; a batch of small matrices instead runs batch entries in
// parallel, each GEMM then single-threaded (gemm stays on the calling thread inside a
// parallel region).
#include "ops/cpu/matmul.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "ops/cpu/gemm.h"

namespace kite::cpu {
namespace {

// GEMM only starts threads above 2 * 96^3 flops per thread (ops/cpu/gemm.cpp); below that,
// parallelism has to come from the batch.
constexpr double kMinGemmFlopsPerThread = 2.0 * 96 * 96 * 96;
constexpr int64_t kParallelFillThreshold = 32768;  // elements

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

template <class T>
void matmul_typed(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out) {
  const int64_t d = out.dim();
  const int64_t m = out.shape()[d - 2], n = out.shape()[d - 1], k = a.shape()[a.dim() - 1];
  const int64_t batch = out.numel() / (m * n);
  T* c = out.data_ptr<T>();

  // With a bias, C starts as the bias row repeated and GEMM adds onto it (beta = 1).
  T beta = 0;
  if (bias.defined()) {
    const T* bias_data = bias.data_ptr<T>();
    const int64_t stride = bias.strides()[0];
#pragma omp parallel for if (batch * m * n > kParallelFillThreshold) schedule(static)
    for (int64_t r = 0; r < batch * m; ++r)
      for (int64_t j = 0; j < n; ++j) c[r * n + j] = bias_data[j * stride];
    beta = 1;
  }
  if (k == 0) {
    if (!bias.defined()) std::fill(c, c + out.numel(), T(0));
    return;
  }

  const MatrixLayout la = matrix_layout(a), lb = matrix_layout(b);
  KITE_CHECK(la.ok && lb.ok, "matmul: kernel given operands that are not GEMM-compatible: "
                                 << describe(a) << " strides " << shape_str(a.strides()) << " and "
                                 << describe(b) << " strides " << shape_str(b.strides()));
  const T* a_data = a.data_ptr<T>();
  const T* b_data = b.data_ptr<T>();

  if (batch == 1 || (!la.transposed && shared_across_batch(b) && rows_stack(a, la.ld))) {
    gemm<T>(la.transposed, lb.transposed, batch * m, n, k, T(1), a_data, la.ld, b_data, lb.ld, beta,
            c, n);
    return;
  }
  const std::vector<int64_t> a_offsets = batch_offsets(a), b_offsets = batch_offsets(b);
  const bool batch_parallel = 2.0 * m * n * k < kMinGemmFlopsPerThread * omp_get_max_threads();
#pragma omp parallel for if (batch_parallel) schedule(static)
  for (int64_t i = 0; i < batch; ++i)
    gemm<T>(la.transposed, lb.transposed, m, n, k, T(1), a_data + a_offsets[i], la.ld,
            b_data + b_offsets[i], lb.ld, beta, c + i * m * n, n);
}

}  // namespace

void matmul_kernel(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out) {
  if (out.numel() == 0) return;
  visit_floating(out.dtype(), "matmul",
                 [&](auto tag) { matmul_typed<decltype(tag)>(a, b, bias, out); });
}

}  // namespace kite::cpu
