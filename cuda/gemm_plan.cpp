// cublasLt plans for one matrix product (see gemm_plan.h).
#include "cuda/gemm_plan.h"

#include <algorithm>

#include "cuda/check.h"
#include "engine/storage.h"

namespace kite::cuda {
namespace {

// Mixes one field into a running hash (the 64-bit golden-ratio constant spreads nearby values).
void mix(size_t& hash, uint64_t value) {
  hash ^= value + 0x9e3779b97f4a7c15ull + (hash << 6) + (hash >> 2);
}

// Sets a descriptor or preference attribute of any type, checked.
template <class Setter, class Object, class Attribute, class Value>
void set_attribute(Setter setter, Object object, Attribute attribute, Value value) {
  CUBLAS_CHECK(setter(object, attribute, &value, sizeof value));
}

// Column-major layout of a matrix that the product reads as rows x cols after `trans`.
void init_layout(cublasLtMatrixLayoutOpaque_t& layout, cudaDataType_t type, bool trans,
                 int64_t rows, int64_t cols, int64_t ld) {
  CUBLAS_CHECK(
      cublasLtMatrixLayoutInit(&layout, type, trans ? cols : rows, trans ? rows : cols, ld));
}

}  // namespace

size_t GemmPlanKeyHash::operator()(const GemmPlanKey& key) const {
  size_t hash =
      (key.float64 ? 1 : 0) | (key.tf32 ? 2 : 0) | (key.trans_a ? 4 : 0) | (key.trans_b ? 8 : 0);
  for (int64_t v : {key.m, key.n, key.k, key.lda, key.ldb, key.ldc}) mix(hash, uint64_t(v));
  mix(hash, (uint64_t{key.align_a} << 32) | (uint64_t{key.align_b} << 16) | key.align_c);
  return hash;
}

uint32_t pointer_alignment(const void* pointer) {
  const auto address = reinterpret_cast<uintptr_t>(pointer);
  uint32_t alignment = 1;
  while (alignment < 256 && address % (alignment * 2) == 0) alignment *= 2;
  return alignment;
}

bool gemm_offers_workspace(int64_t m, int64_t n, int64_t k) {
  const double volume = double(m) * double(n) * double(k);  // no int64 overflow
  return volume >= double(int64_t{1} << 27) || (k >= 4096 && k >= 8 * std::max(m, n));
}

GemmPlan make_gemm_plan(cublasLtHandle_t handle, const GemmPlanKey& key) {
  GemmPlan plan;
  const cudaDataType_t type = key.float64 ? CUDA_R_64F : CUDA_R_32F;
  const cublasComputeType_t compute = key.float64 ? CUBLAS_COMPUTE_64F
                                      : key.tf32  ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                  : CUBLAS_COMPUTE_32F;
  CUBLAS_CHECK(cublasLtMatmulDescInit(&plan.operation, compute, type));
  const cublasOperation_t op_a = key.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = key.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  set_attribute(cublasLtMatmulDescSetAttribute, &plan.operation, CUBLASLT_MATMUL_DESC_TRANSA, op_a);
  set_attribute(cublasLtMatmulDescSetAttribute, &plan.operation, CUBLASLT_MATMUL_DESC_TRANSB, op_b);
  init_layout(plan.a_layout, type, key.trans_a, key.m, key.k, key.lda);
  init_layout(plan.b_layout, type, key.trans_b, key.k, key.n, key.ldb);
  init_layout(plan.c_layout, type, false, key.m, key.n, key.ldc);

  cublasLtMatmulPreferenceOpaque_t preference{};
  CUBLAS_CHECK(cublasLtMatmulPreferenceInit(&preference));
  const uint64_t max_workspace =
      gemm_offers_workspace(key.m, key.n, key.k) ? kMaxGemmWorkspaceBytes : 0;
  const auto set_preference = [&](cublasLtMatmulPreferenceAttributes_t attribute, auto value) {
    set_attribute(cublasLtMatmulPreferenceSetAttribute, &preference, attribute, value);
  };
  set_preference(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, max_workspace);
  set_preference(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, key.align_a);
  set_preference(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, key.align_b);
  set_preference(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, key.align_c);
  set_preference(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, key.align_c);

  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(
      handle, &plan.operation, &plan.a_layout, &plan.b_layout, &plan.c_layout, &plan.c_layout,
      &preference, 1, &result, &found);
  // No algorithm (CUBLAS_STATUS_NOT_SUPPORTED, or a shape cublasLt refuses): the caller falls
  // back to cublas<T>gemm, which reports a real error itself.
  if (status != CUBLAS_STATUS_SUCCESS || found == 0 || result.state != CUBLAS_STATUS_SUCCESS)
    return plan;
  plan.algo = result.algo;
  plan.workspace_bytes = result.workspaceSize;
  plan.usable = true;
  return plan;
}

const GemmPlan& GemmPlanCache::find_or_make(cublasLtHandle_t handle, const GemmPlanKey& key) {
  const auto it = plans_.find(key);
  if (it != plans_.end()) return it->second;
  return plans_.emplace(key, make_gemm_plan(handle, key)).first->second;
}

template <class T>
void run_gemm_plan(cublasLtHandle_t handle, const GemmPlan& plan, T alpha, const T* a, const T* b,
                   T beta, T* c, cudaStream_t stream, int device) {
  // The workspace is device memory for this call (a Storage: from the caching allocator, back
  // to it when the call is queued). Handing it back that early is safe: the allocator gives a
  // freed block only to later work on the same stream, which runs after this product.
  const Storage workspace(plan.workspace_bytes, Device::cuda(device));
  // cublasLt takes its descriptors as non-const handles but does not change them.
  auto& operation = const_cast<cublasLtMatmulDescOpaque_t&>(plan.operation);
  auto& a_layout = const_cast<cublasLtMatrixLayoutOpaque_t&>(plan.a_layout);
  auto& b_layout = const_cast<cublasLtMatrixLayoutOpaque_t&>(plan.b_layout);
  auto& c_layout = const_cast<cublasLtMatrixLayoutOpaque_t&>(plan.c_layout);
  CUBLAS_CHECK(cublasLtMatmul(handle, &operation, &alpha, a, &a_layout, b, &b_layout, &beta, c,
                              &c_layout, c, &c_layout, &plan.algo, workspace.data(),
                              plan.workspace_bytes, stream));
}

template void run_gemm_plan<float>(cublasLtHandle_t, const GemmPlan&, float, const float*,
                                   const float*, float, float*, cudaStream_t, int);
template void run_gemm_plan<double>(cublasLtHandle_t, const GemmPlan&, double, const double*,
                                    const double*, double, double*, cudaStream_t, int);

}  // namespace kite::cuda
