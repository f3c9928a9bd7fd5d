// cublasLt plans for one matrix product: the operation's descriptor, the three matrix layouts
// and the algorithm, chosen once per shape and kept, so that every later product of that shape
// is a single cublasLtMatmul call.
//
// Why not cublasSgemm / cublasDgemm for every product: they run cuBLAS's algorithm heuristics
// on every call. Measured on an H200 machine, a 256x256x256 cublasDgemm took 12.2 us of host
// time to issue and cublasLtMatmul with a kept algorithm 9.9-10.9 us (one kernel either way); a
// product that small takes less time than that on the GPU, so the host's time per call is the
// product's time, and the saving is the whole difference.
//
// Which algorithm: the first choice of cuBLAS's heuristic (cublasLtMatmulAlgoGetHeuristic),
// told how the call's pointers are aligned (it otherwise assumes 256 bytes, which a view at an
// offset does not have; the alignment is part of the key). A workspace, which lets the
// heuristic choose split-K (the K loop cut across SMs, a second kernel summing the pieces), is
// offered only where that can pay (gemm_offers_workspace): a second kernel costs another
// launch's host time (~5 us), so a small product is better off without one (on the H200,
// 256^3 float32 with a workspace: split-K, 14.7 us per call; without: one kernel, 10.0 us),
// while an output of few tiles over a long K loop needs it (a convolution's weight gradient,
// 64x25 outputs over K = 50176, ran 13 times slower without).
//
// Everything here is in cuBLAS's column-major terms; blas.cpp turns kite's row-major product
// into them. Plans hold only host memory (descriptors initialised in place), so they need no
// clean-up.
#pragma once

#include <cublasLt.h>

#include <cstddef>
#include <cstdint>
#include <unordered_map>

namespace kite::cuda {

// C (m x n) = alpha op(A) op(B) + beta C, column-major with leading dimensions lda, ldb, ldc.
struct GemmPlanKey {
  bool float64 = false;  // else float32
  bool tf32 = false;     // float32 products on TF32 tensor cores (set_allow_tf32)
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
  uint32_t align_a = 0, align_b = 0, align_c = 0;  // bytes, see pointer_alignment
  bool operator==(const GemmPlanKey&) const = default;
};

struct GemmPlanKeyHash {
  size_t operator()(const GemmPlanKey& key) const;
};

// Whether the heuristic is offered a workspace: for large products (m n k at least 2^27, a
// 512^3 one) and for those whose K loop is long, both in itself and next to their output
// (k >= 4096 and k >= 8 max(m, n)): few output tiles, each a long loop on one SM.
bool gemm_offers_workspace(int64_t m, int64_t n, int64_t k);
// The most workspace a plan may ask for. The split-K plans the heuristic chose for the
// benchmark's shapes on an H200 asked for at most 16 MiB.
constexpr size_t kMaxGemmWorkspaceBytes = size_t{32} << 20;

// The largest power of two (at most 256) that divides the address: what the heuristic is told.
uint32_t pointer_alignment(const void* pointer);

struct GemmPlan {
  bool usable = false;  // false: cublasLt offers no algorithm; the caller uses cublas<T>gemm
  cublasLtMatmulDescOpaque_t operation{};
  cublasLtMatrixLayoutOpaque_t a_layout{}, b_layout{}, c_layout{};
  cublasLtMatmulAlgo_t algo{};
  size_t workspace_bytes = 0;
};

// Asks cuBLAS's heuristic for the key's algorithm. Never throws for a product cublasLt cannot
// do: the plan then says it is not usable.
GemmPlan make_gemm_plan(cublasLtHandle_t handle, const GemmPlanKey& key);

// One thread's plans for one device.
class GemmPlanCache {
 public:
  const GemmPlan& find_or_make(cublasLtHandle_t handle, const GemmPlanKey& key);
  size_t size() const { return plans_.size(); }

 private:
  std::unordered_map<GemmPlanKey, GemmPlan, GemmPlanKeyHash> plans_;
};

// Runs a usable plan on `stream`: C = alpha op(A) op(B) + beta C with the key's shapes. The
// workspace, if the plan has one, comes from the caching allocator for the call.
template <class T>
void run_gemm_plan(cublasLtHandle_t handle, const GemmPlan& plan, T alpha, const T* a, const T* b,
                   T beta, T* c, cudaStream_t stream, int device);

}  // namespace kite::cuda
