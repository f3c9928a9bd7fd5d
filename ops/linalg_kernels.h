// Kernel interface of the matrix products (ops/linalg.cpp): one batched GEMM with an
// optional bias row, and the rule that decides whether a strided matrix can go to a GEMM
// without a copy.
#pragma once

#include <algorithm>
#include <cstdint>

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

// out[b] = a[b] @ b[b] (+ bias broadcast over rows) for every batch index b.
//   a: [batch..., m, k], b: [batch..., k, n], the same batch shape (broadcast operands come
//      as expanded views with stride-0 batch axes); matrix_layout(a) and matrix_layout(b)
//      must be ok. Any batch strides.
//   bias: undefined, or 1-D [n] with any stride.
//   out: contiguous [batch..., m, n]; same floating dtype and device for all.
using MatmulFn = void (*)(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out);

extern DispatchStub<MatmulFn> matmul_stub;

}  // namespace kite
