// cuBLAS handles and the row-major strided-batched GEMM (see blas.h).
#include "cuda/blas.h"

#include <cublasLt.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <type_traits>
#include <vector>

#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/gemm_plan.h"
#include "cuda/stream.h"
#include "engine/error.h"

namespace kite::cuda {
namespace {

std::atomic<bool> tf32_allowed{false};

// cuBLAS's batched kernels put the batch in the grid's y/z dimension on some paths; calls are
// split into batches of at most this many.
constexpr int64_t kMaxBatchPerCall = 65535;

int checked_int(int64_t value, const char* what) {
  KITE_CHECK(value >= 0 && value <= INT_MAX,
             "matmul (cuBLAS): " << what << " = " << value << " does not fit cuBLAS's 32-bit int");
  return static_cast<int>(value);
}

cublasStatus_t call_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                         int k, const float* alpha, const float* a, int lda, long long stride_a,
                         const float* b, int ldb, long long stride_b, const float* beta, float* c,
                         int ldc, long long stride_c, int batch) {
  return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b,
                                   beta, c, ldc, stride_c, batch);
}

cublasStatus_t call_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                         int k, const double* alpha, const double* a, int lda, long long stride_a,
                         const double* b, int ldb, long long stride_b, const double* beta,
                         double* c, int ldc, long long stride_c, int batch) {
  return cublasDgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b,
                                   beta, c, ldc, stride_c, batch);
}

// One matrix, when cublasLt has no plan for it: the plain GEMM rather than a batch of one.
cublasStatus_t call_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                         int k, const float* alpha, const float* a, int lda, const float* b,
                         int ldb, const float* beta, float* c, int ldc) {
  return cublasSgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

cublasStatus_t call_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                         int k, const double* alpha, const double* a, int lda, const double* b,
                         int ldb, const double* beta, double* c, int ldc) {
  return cublasDgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace

void set_allow_tf32(bool allow) { tf32_allowed.store(allow); }
bool allow_tf32() { return tf32_allowed.load(); }

namespace {

// A thread's handles for one device. The cuBLAS handle keeps the stream and math mode it was
// last given: setting either costs host time, which a small GEMM's launch cannot hide, so they
// are set only when they change (a new handle runs on the default stream in the default math
// mode). The cublasLt handle runs the single products, with their plans (gemm_plan.h).
struct HandleState {
  cublasHandle_t handle = nullptr;
  cudaStream_t stream = nullptr;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
  cublasLtHandle_t lt = nullptr;
  GemmPlanCache plans;
};

HandleState& current_handle_state() {
  // Handles are never destroyed: a thread-exit or static destructor could run after the CUDA
  // runtime has shut down. One handle per device per thread is a few KB of host memory.
  thread_local std::vector<HandleState> states;
  const int device = current_device();
  if (device >= static_cast<int>(states.size())) states.resize(device + 1);
  HandleState& state = states[device];
  if (state.handle == nullptr) {
    CUBLAS_CHECK(cublasCreate(&state.handle));
    CUBLAS_CHECK(cublasLtCreate(&state.lt));
  }
  const cudaStream_t stream = current_stream();
  if (state.stream != stream) {
    CUBLAS_CHECK(cublasSetStream(state.handle, stream));
    state.stream = stream;
  }
  return state;
}

}  // namespace

cublasHandle_t cublas_handle() { return current_handle_state().handle; }

size_t gemm_plan_count() { return current_handle_state().plans.size(); }

template <class T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
                          const T* a, int64_t lda, int64_t stride_a, const T* b, int64_t ldb,
                          int64_t stride_b, T beta, T* c, int64_t ldc, int64_t stride_c,
                          int64_t batch) {
  if (batch == 0 || m == 0 || n == 0) return;
  // With k == 0, BLAS would scale C by beta; every caller handles that case itself.
  KITE_CHECK(k > 0, "gemm: empty reduction (K = 0) must be handled by the caller");
  HandleState& state = current_handle_state();
  cublasHandle_t handle = state.handle;
  if constexpr (std::is_same_v<T, float>) {  // the math mode only affects float32
    const cublasMath_t math = allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
    if (state.math != math) {
      CUBLAS_CHECK(cublasSetMathMode(handle, math));
      state.math = math;
    }
  }
  // Column-major C^T (n x m) = op(B)^T (n x k) * op(A)^T (k x m): see blas.h.
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int cm = checked_int(n, "N"), cn = checked_int(m, "M"), ck = checked_int(k, "K");
  const int ld_b = checked_int(ldb, "ldb"), ld_a = checked_int(lda, "lda");
  const int ld_c = checked_int(ldc, "ldc");
  if (batch == 1) {
    const GemmPlanKey key{std::is_same_v<T, double>,
                          std::is_same_v<T, float> && allow_tf32(),
                          trans_b,
                          trans_a,
                          cm,
                          cn,
                          ck,
                          ld_b,
                          ld_a,
                          ld_c,
                          pointer_alignment(b),
                          pointer_alignment(a),
                          pointer_alignment(c)};
    const GemmPlan& plan = state.plans.find_or_make(state.lt, key);
    if (plan.usable) {
      run_gemm_plan(state.lt, plan, alpha, b, a, beta, c, state.stream, current_device());
    } else {
      CUBLAS_CHECK(
          call_gemm(handle, op_b, op_a, cm, cn, ck, &alpha, b, ld_b, a, ld_a, &beta, c, ld_c));
    }
    return;
  }
  for (int64_t first = 0; first < batch; first += kMaxBatchPerCall) {
    const int count = static_cast<int>(std::min(kMaxBatchPerCall, batch - first));
    CUBLAS_CHECK(call_gemm(handle, op_b, op_a, cm, cn, ck, &alpha, b + first * stride_b, ld_b,
                           stride_b, a + first * stride_a, ld_a, stride_a, &beta,
                           c + first * stride_c, ld_c, stride_c, count));
  }
}

template void gemm_strided_batched<float>(bool, bool, int64_t, int64_t, int64_t, float,
                                          const float*, int64_t, int64_t, const float*, int64_t,
                                          int64_t, float, float*, int64_t, int64_t, int64_t);
template void gemm_strided_batched<double>(bool, bool, int64_t, int64_t, int64_t, double,
                                           const double*, int64_t, int64_t, const double*, int64_t,
                                           int64_t, double, double*, int64_t, int64_t, int64_t);

}  // namespace kite::cuda
