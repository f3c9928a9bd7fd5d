// CUDA reductions over the middle axis of a contiguous [outer, n, inner] block (the layout
// of ops/reduce_kernels.h), with the combine functors and accumulator types of
// ops/math/reduce.h (float32 accumulates in double, as on the CPU).
//
// Two kernel shapes:
//  - rows (inner == 1, rows long enough): a block per row (or per piece of a row); threads
//    stride along the contiguous row and finish with a block reduction.
//  - columns (inner > 1, or short rows): a thread per output element walks its n elements
//    with stride inner; neighbouring threads read neighbouring columns (coalesced).
// When there are too few outputs to fill the GPU, the reduced axis is cut into pieces: pass 1
// writes one partial result per (piece, output), pass 2 combines the pieces (a warp per
// output). How many pieces depends only on the shape (not on the GPU), and every combine
// order only on the thread layout, so results are reproducible.
// arg_reduce keeps the CPU's simple scan (a thread per output), which gives the same first
// index of the maximum, NaN first, by construction.
#include <limits>

#include "cuda/block_reduce.cuh"
#include "cuda/kernels.h"
#include "engine/dtype.h"
#include "ops/math/reduce.h"

namespace kite::cuda {
namespace {

constexpr int64_t kShortRow = 64;           // rows at most this long use the column kernel
constexpr int64_t kRowPiece = 2048;         // elements per block-sized piece of a row
constexpr int64_t kManyRows = 1024;         // with this many rows, never cut them
constexpr int64_t kTargetThreads = 131072;  // column kernel: outputs x pieces to aim for
constexpr int64_t kMinPieceRows = 32;       // column kernel: rows per piece at least
constexpr int64_t kMaxPieces = 1024;
constexpr int kUnroll = 4;  // loads in flight per thread (combine_strided)

// The neutral element of each combine for accumulator type A (double or int64).
template <class A>
A identity_of(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return A(0);
    case ReduceOp::Max:
      return std::numeric_limits<A>::has_infinity ? -std::numeric_limits<A>::infinity()
                                                  : std::numeric_limits<A>::lowest();
    case ReduceOp::Min:
      return std::numeric_limits<A>::has_infinity ? std::numeric_limits<A>::infinity()
                                                  : std::numeric_limits<A>::max();
  }
  return A(0);
}

// Combines p[i * scale] for i = first, first + stride, ... below end. kUnroll accumulators
// take turns, so that each thread has kUnroll independent loads in flight: with one
// accumulator a thread waits for every load before the next, and a reduction reads at a
// fraction of the memory bandwidth.
template <class T, class A, class Combine>
__device__ A combine_strided(const T* p, int64_t first, int64_t end, int64_t stride, int64_t scale,
                             Combine combine, A identity) {
  A acc[kUnroll];
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) acc[u] = identity;
  int64_t i = first;
  for (; i + (kUnroll - 1) * stride < end; i += kUnroll * stride) {
    T v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) v[u] = p[(i + u * stride) * scale];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) acc[u] = combine(acc[u], A(v[u]));
  }
  for (; i < end; i += stride) acc[0] = combine(acc[0], A(p[i * scale]));
#pragma unroll
  for (int u = 1; u < kUnroll; ++u) acc[0] = combine(acc[0], acc[u]);
  return acc[0];
}

// Pass 1, rows: block b reduces piece (b % pieces) of row (b / pieces). With one piece the
// result goes straight to out, otherwise to partial[piece * rows + row].
template <class T, class A, class Combine>
__global__ void reduce_rows_kernel(const T* x, int64_t rows, int64_t n, int64_t piece_length,
                                   int64_t pieces, Combine combine, A identity, T* out,
                                   A* partial) {
  for (int64_t b = blockIdx.x; b < rows * pieces; b += gridDim.x) {
    const int64_t row = b / pieces, piece = b % pieces;
    const int64_t begin = piece * piece_length;
    const int64_t end = begin + piece_length < n ? begin + piece_length : n;
    A acc = combine_strided(x + row * n, begin + threadIdx.x, end, int64_t{blockDim.x}, 1, combine,
                            identity);
    acc = block_reduce(acc, combine, identity);
    if (threadIdx.x == 0) {
      if (pieces == 1)
        out[row] = static_cast<T>(acc);
      else
        partial[piece * rows + row] = acc;
    }
  }
}

// Pass 1, columns: thread t reduces rows [piece * piece_rows, ...) of output q, where
// t = piece * outputs + q and q = o * inner + j.
template <class T, class A, class Combine>
__global__ void reduce_columns_kernel(const T* x, int64_t outer, int64_t n, int64_t inner,
                                      int64_t piece_rows, int64_t pieces, Combine combine,
                                      A identity, T* out, A* partial) {
  const int64_t outputs = outer * inner;
  for (int64_t t = first_index(); t < pieces * outputs; t += grid_stride()) {
    const int64_t piece = t / outputs, q = t % outputs;
    const int64_t o = q / inner, j = q % inner;
    const int64_t begin = piece * piece_rows;
    const int64_t end = begin + piece_rows < n ? begin + piece_rows : n;
    const A acc = combine_strided(x + o * n * inner + j, begin, end, 1, inner, combine, identity);
    if (pieces == 1)
      out[q] = static_cast<T>(acc);
    else
      partial[piece * outputs + q] = acc;
  }
}

// Pass 2: out[q] = the pieces of output q combined, a warp per output (lane l takes pieces
// l, l + 32, ..., then a shuffle tree), so that a single output's thousand pieces are not
// one thread's serial loop.
template <class T, class A, class Combine>
__global__ void combine_pieces_kernel(const A* partial, int64_t outputs, int64_t pieces,
                                      Combine combine, A identity, T* out) {
  const int lane = static_cast<int>(threadIdx.x % kWarpSize);
  const int64_t warps = grid_stride() / kWarpSize;
  // q is the same for the whole warp, so every lane takes part in warp_reduce.
  for (int64_t q = first_index() / kWarpSize; q < outputs; q += warps) {
    A acc = identity;
    for (int64_t p = lane; p < pieces; p += kWarpSize) acc = combine(acc, partial[p * outputs + q]);
    acc = warp_reduce(acc, combine);
    if (lane == 0) out[q] = static_cast<T>(acc);
  }
}

template <class T>
__global__ void zero_kernel(T* out, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) out[i] = T(0);
}

template <class T, class Combine>
void reduce_typed(Combine combine, ReduceOp op, const Tensor& x, int64_t outer, int64_t n,
                  int64_t inner, const Tensor& out) {
  using A = math::accumulator_t<T>;
  const A identity = identity_of<A>(op);
  const cudaStream_t stream = current_stream();
  const T* src = x.data_ptr<T>();
  T* dst = out.data_ptr<T>();
  const int64_t outputs = outer * inner;
  const DType acc_dtype = std::is_same_v<A, double> ? DType::Float64 : DType::Int64;

  if (inner == 1 && n > kShortRow) {
    const int64_t pieces =
        outer >= kManyRows ? 1 : std::min(kMaxPieces, std::max<int64_t>(1, ceil_div(n, kRowPiece)));
    const int64_t piece_length = ceil_div(n, pieces);
    Tensor partial;
    if (pieces > 1) partial = Tensor::empty({pieces * outer}, acc_dtype, x.device());
    A* partial_data = pieces > 1 ? static_cast<A*>(partial.raw_data()) : nullptr;
    reduce_rows_kernel<T, A><<<block_per_item(outer * pieces), kBlockSize, 0, stream>>>(
        src, outer, n, piece_length, pieces, combine, identity, dst, partial_data);
    KITE_CUDA_CHECK_LAUNCH();
    if (pieces > 1) {
      combine_pieces_kernel<T, A><<<grid_for(outputs * kWarpSize), kBlockSize, 0, stream>>>(
          partial_data, outputs, pieces, combine, identity, dst);
      KITE_CUDA_CHECK_LAUNCH();
    }
    return;
  }

  int64_t pieces = 1;
  if (outputs < kTargetThreads)
    pieces = std::min({ceil_div(kTargetThreads, outputs), ceil_div(n, kMinPieceRows), kMaxPieces});
  pieces = std::max<int64_t>(pieces, 1);
  const int64_t piece_rows = ceil_div(n, pieces);
  pieces = ceil_div(n, piece_rows);  // no empty trailing piece
  Tensor partial;
  if (pieces > 1) partial = Tensor::empty({pieces * outputs}, acc_dtype, x.device());
  A* partial_data = pieces > 1 ? static_cast<A*>(partial.raw_data()) : nullptr;
  reduce_columns_kernel<T, A><<<grid_for(pieces * outputs), kBlockSize, 0, stream>>>(
      src, outer, n, inner, piece_rows, pieces, combine, identity, dst, partial_data);
  KITE_CUDA_CHECK_LAUNCH();
  if (pieces > 1) {
    combine_pieces_kernel<T, A><<<grid_for(outputs * kWarpSize), kBlockSize, 0, stream>>>(
        partial_data, outputs, pieces, combine, identity, dst);
    KITE_CUDA_CHECK_LAUNCH();
  }
}

// A thread per output: the CPU's scan, so ties and NaN resolve identically (first wins).
template <class T, class Better>
__global__ void arg_reduce_kernel_impl(const T* x, int64_t outer, int64_t n, int64_t inner,
                                       Better better, T* values, int64_t* indices) {
  const int64_t outputs = outer * inner;
  for (int64_t q = first_index(); q < outputs; q += grid_stride()) {
    const int64_t o = q / inner, j = q % inner;
    const T* column = x + o * n * inner + j;
    T best = column[0];
    int64_t best_index = 0;
    for (int64_t r = 1; r < n; ++r) {
      const T v = column[r * inner];
      if (better(v, best)) {
        best = v;
        best_index = r;
      }
    }
    values[q] = best;
    indices[q] = best_index;
  }
}

// The dtypes reductions support, as on the CPU: floating types and int64.
template <class F>
void visit_reducible(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float32:
      return f(float{});
    case DType::Float64:
      return f(double{});
    case DType::Int64:
      return f(int64_t{});
    default:
      break;
  }
  KITE_FAIL(op << ": dtype " << dtype_name(dtype) << " is not supported");
}

}  // namespace

void reduce_kernel(ReduceOp op, const Tensor& x, int64_t outer, int64_t n, int64_t inner,
                   const Tensor& out) {
  if (outer * inner == 0) return;
  DeviceGuard guard(out.device().index);
  visit_reducible(x.dtype(), "reduce", [&](auto tag) {
    using T = decltype(tag);
    if (n == 0) {  // only sums get here (the op rejects empty max / min)
      zero_kernel<<<grid_for(outer * inner), kBlockSize, 0, current_stream()>>>(out.data_ptr<T>(),
                                                                                outer * inner);
      KITE_CUDA_CHECK_LAUNCH();
      return;
    }
    switch (op) {
      case ReduceOp::Sum:
        return reduce_typed<T>(math::SumCombine{}, op, x, outer, n, inner, out);
      case ReduceOp::Max:
        return reduce_typed<T>(math::MaxCombine{}, op, x, outer, n, inner, out);
      case ReduceOp::Min:
        return reduce_typed<T>(math::MinCombine{}, op, x, outer, n, inner, out);
    }
  });
}

void arg_reduce_kernel(bool is_max, const Tensor& x, int64_t outer, int64_t n, int64_t inner,
                       const Tensor& values, const Tensor& indices) {
  if (outer * inner == 0) return;
  DeviceGuard guard(values.device().index);
  visit_reducible(x.dtype(), "arg_reduce", [&](auto tag) {
    using T = decltype(tag);
    const int grid = grid_for(outer * inner);
    if (is_max)
      arg_reduce_kernel_impl<<<grid, kBlockSize, 0, current_stream()>>>(
          x.data_ptr<T>(), outer, n, inner, math::ArgMaxBetter{}, values.data_ptr<T>(),
          indices.data_ptr<int64_t>());
    else
      arg_reduce_kernel_impl<<<grid, kBlockSize, 0, current_stream()>>>(
          x.data_ptr<T>(), outer, n, inner, math::ArgMinBetter{}, values.data_ptr<T>(),
          indices.data_ptr<int64_t>());
    KITE_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace kite::cuda
