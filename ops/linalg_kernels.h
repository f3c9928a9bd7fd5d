// Kernel interface of the matrix products (ops/linalg.cpp): one batched GEMM with an
// optional bias row, the rule that decides whether a strided matrix can go to a GEMM
// without a copy, and the plan that maps a batch onto GEMM calls. The plan is shared by the
// CPU kernel (ops/cpu/matmul.cpp) and the cuBLAS one (cuda/matmul.cu), so CPU tests check
// the bookkeeping both run.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace kite {

// How a rows x cols matrix with the given element strides is handed to a row-major GEMM:
// directly (row stride = ld, unit column stride), or as the transpose of a stored
// cols x rows matrix (unit row stride, column stride = ld). ok is false when neither works
// (e.g. both strides > 1, or a stride-0 broadcast matrix), and the caller must copy.
struct MatrixLayout {
  bool ok = false;
  bool transposed = false;
  int64_t ld = 0;
};

inline MatrixLayout matrix_layout(int64_t rows, int64_t cols, int64_t row_stride,
                                  int64_t col_stride) {
  // A stride along a size-1 axis is never used, so it may be anything.
  if (col_stride == 1 || cols <= 1) {
    const int64_t ld = rows <= 1 ? std::max<int64_t>(cols, 1) : row_stride;
    if (ld >= std::max<int64_t>(cols, 1)) return {true, false, ld};
  }
  if (row_stride == 1 || rows <= 1) {
    const int64_t ld = cols <= 1 ? std::max<int64_t>(rows, 1) : col_stride;
    if (ld >= std::max<int64_t>(rows, 1)) return {true, true, ld};
  }
  return {};
}

// The last two axes of t as a matrix.
inline MatrixLayout matrix_layout(const Tensor& t) {
  const int64_t d = t.dim();
  return matrix_layout(t.shape()[d - 2], t.shape()[d - 1], t.strides()[d - 2], t.strides()[d - 1]);
}

// How the batch of [batch..., m, k] @ [batch..., k, n] maps onto GEMM calls:
//   folded: B is one matrix for the whole batch and A's batch axes stack its rows evenly, so
//     the batch is a single GEMM of batch * m rows (linear layers: x [B, T, in] @ W^T), which
//     is faster than many small ones;
//   otherwise one GEMM per batch entry i, on A at a_offsets[i] and B at b_offsets[i]
//     (elements, row-major over the batch axes; a broadcast operand repeats an offset).
struct BatchedGemmPlan {
  MatrixLayout a, b;
  bool folded = false;
  std::vector<int64_t> a_offsets, b_offsets;  // empty when folded
};

namespace detail {

// Element offset of every batch entry of t (row-major over the axes before the last two).
inline std::vector<int64_t> batch_offsets(const Tensor& t) {
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
inline bool shared_across_batch(const Tensor& t) {
  for (int64_t d = 0; d + 2 < t.dim(); ++d)
    if (t.shape()[d] > 1 && t.strides()[d] != 0) return false;
  return true;
}

// The batch axes of t continue its rows: entry b's row r is row b * m + r of one matrix with
// row stride ld.
inline bool rows_stack(const Tensor& t, int64_t ld) {
  int64_t expected = ld * t.shape()[t.dim() - 2];
  for (int64_t d = t.dim() - 3; d >= 0; --d) {
    if (t.shape()[d] > 1 && t.strides()[d] != expected) return false;
    expected *= t.shape()[d];
  }
  return true;
}

}  // namespace detail

// The plan for out = a @ b with the operands of MatmulFn below (out not empty, k > 0).
inline BatchedGemmPlan plan_batched_gemm(const Tensor& a, const Tensor& b, const Tensor& out) {
  BatchedGemmPlan plan;
  const int64_t batch = out.numel() / (out.shape()[out.dim() - 2] * out.shape()[out.dim() - 1]);
  plan.a = matrix_layout(a);
  plan.b = matrix_layout(b);
  KITE_CHECK(plan.a.ok && plan.b.ok, "matmul: kernel given operands that are not GEMM-compatible: "
                                         << describe(a) << " strides " << shape_str(a.strides())
                                         << " and " << describe(b) << " strides "
                                         << shape_str(b.strides()));
  plan.folded = batch == 1 || (!plan.a.transposed && detail::shared_across_batch(b) &&
                               detail::rows_stack(a, plan.a.ld));
  if (!plan.folded) {
    plan.a_offsets = detail::batch_offsets(a);
    plan.b_offsets = detail::batch_offsets(b);
  }
  return plan;
}

// The common difference of evenly spaced offsets (what a strided-batched GEMM takes; 0 for a
// single entry or a broadcast operand), or nullopt when the spacing varies.
inline std::optional<int64_t> even_step(const std::vector<int64_t>& offsets) {
  const int64_t step = offsets.size() > 1 ? offsets[1] - offsets[0] : 0;
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] - offsets[i - 1] != step) return std::nullopt;
  return step;
}

// out[b] = a[b] @ b[b] (+ bias broadcast over rows) for every batch index b.
//   a: [batch..., m, k], b: [batch..., k, n], the same batch shape (broadcast operands come
//      as expanded views with stride-0 batch axes); matrix_layout(a) and matrix_layout(b)
//      must be ok. Any batch strides.
//   bias: undefined, or 1-D [n] with any stride.
//   out: contiguous [batch..., m, n]; same floating dtype and device for all.
using MatmulFn = void (*)(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out);

extern DispatchStub<MatmulFn> matmul_stub;

}  // namespace kite
