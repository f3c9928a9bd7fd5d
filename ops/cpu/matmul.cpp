// Batched matrix product on the CPU: one call of the engine's GEMM per batch entry, or a
// single call when the batch can be folded into the rows.
//
// Transposed views cost nothing: matrix_layout() turns a view whose row stride is 1 into a
// GEMM "trans" flag. Which calls to make (one folded GEMM, or one per batch entry, broadcast
// axes repeating a matrix pointer) is plan_batched_gemm()'s decision (ops/linalg_kernels.h),
// shared with the CUDA kernel.
// Threads: GEMM threads itself; a batch of small matrices instead runs batch entries in
// parallel, each GEMM then single-threaded (gemm stays on the calling thread inside a
// parallel region).
#include "ops/cpu/matmul.h"

#include <omp.h>

#include <algorithm>

#include "engine/parallel.h"
#include "ops/cpu/gemm.h"

namespace kite::cpu {
namespace {

// GEMM only starts threads above 2 * 96^3 flops per thread (ops/cpu/gemm.cpp); below that,
// parallelism has to come from the batch.
constexpr double kMinGemmFlopsPerThread = 2.0 * 96 * 96 * 96;
constexpr int64_t kParallelFillThreshold = 32768;  // elements

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
    parallel_range(batch * m, batch * m * n > kParallelFillThreshold,
                   [&](int64_t begin, int64_t end) {
                     for (int64_t r = begin; r < end; ++r)
                       for (int64_t j = 0; j < n; ++j) c[r * n + j] = bias_data[j * stride];
                   });
    beta = 1;
  }
  if (k == 0) {
    if (!bias.defined()) std::fill(c, c + out.numel(), T(0));
    return;
  }

  const BatchedGemmPlan plan = plan_batched_gemm(a, b, out);
  const T* a_data = a.data_ptr<T>();
  const T* b_data = b.data_ptr<T>();
  const bool ta = plan.a.transposed, tb = plan.b.transposed;
  if (plan.folded) {
    gemm<T>(ta, tb, batch * m, n, k, T(1), a_data, plan.a.ld, b_data, plan.b.ld, beta, c, n);
    return;
  }
  const bool batch_parallel = 2.0 * m * n * k < kMinGemmFlopsPerThread * omp_get_max_threads();
  parallel_range(batch, batch_parallel, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      gemm<T>(ta, tb, m, n, k, T(1), a_data + plan.a_offsets[i], plan.a.ld,
              b_data + plan.b_offsets[i], plan.b.ld, beta, c + i * m * n, n);
  });
}

}  // namespace

void matmul_kernel(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out) {
  if (out.numel() == 0) return;
  visit_floating(out.dtype(), "matmul",
                 [&](auto tag) { matmul_typed<decltype(tag)>(a, b, bias, out); });
}

}  // namespace kite::cpu
