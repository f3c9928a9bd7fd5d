// cuBLAS for kite: one handle per (thread, device), and a row-major GEMM on top of cuBLAS's
// column-major one. A single product (batch 1) runs through cublasLt with a plan kept per
// shape (gemm_plan.h), a batch through cublas<T>gemmStridedBatched.
//
// Row-major vs column-major: a row-major M x N matrix with leading dimension ld is, byte for
// byte, the column-major N x M matrix of its transpose. So row-major C = op(A) op(B) is
// column-major C^T = op(B)^T op(A)^T: cuBLAS is called with the operands swapped and M, N
// swapped, and each operand keeps its own transpose flag.
//
// TF32: float32 products run in full float32 precision unless allow_tf32(true) lets cuBLAS use
// TF32 tensor cores (about 3 decimal digits less in the products, several times faster).
// Off by default so that GPU results match the CPU's.
#pragma once

#include <cublas_v2.h>

#include <cstddef>
#include <cstdint>

namespace kite::cuda {

void set_allow_tf32(bool allow);
bool allow_tf32();

// The calling thread's cuBLAS handle for the current device, bound to the current stream.
// Created on first use and kept for the life of the thread.
cublasHandle_t cublas_handle();

// How many cublasLt plans (gemm_plan.h) the calling thread keeps for the current device.
size_t gemm_plan_count();

// For b in [0, batch): C_b = alpha * op(A_b) op(B_b) + beta * C_b, all row-major, where
// op(A_b) is M x K (A stored K x M when trans_a), op(B_b) is K x N (B stored N x K when
// trans_b), and X_b = X + b * stride_x (stride 0 repeats one matrix). M, N, K > 0.
template <class T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                          const T* a, int64_t lda, int64_t stride_a, const T* b, int64_t ldb,
                          int64_t stride_b, T beta, T* c, int64_t ldc, int64_t stride_c,
                          int64_t batch);

}  // namespace kite::cuda
