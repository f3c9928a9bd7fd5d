// CPU reductions over the middle axis of a contiguous [outer, n, inner] block.
//
// Two loop shapes:
//  - inner == 1 ("rows"): each output reduces one contiguous row of n elements.
//  - inner > 1 ("columns"): each output column accumulates n rows of a block of columns,
//    reading whole contiguous rows, so reducing leading axes never needs a transposed copy.
// Work is split into units (rows, or an outer index times a block of columns) run by OpenMP
// when the input is large. When there are only a few long units (a full sum of a big tensor,
// a sum over the batch of a narrow matrix), the reduced axis itself is cut into fixed pieces
// whose partial results are combined in order afterwards. Whether that happens depends only on
// the shape, never on the thread count, so results are reproducible across machines.
//
// Accuracy: sums accumulate in math::accumulator_t (double for float32). Rows are summed by
// 8 interleaved accumulators over blocks of 128 elements, blocks combined pairwise; columns
// sum blocks of 128 rows separately before adding them to the total. Both keep the rounding
// error growing with log(n) or n/128 rather than n.
#include "ops/cpu/reduce.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "engine/parallel.h"
#include "ops/math/reduce.h"

namespace kite::cpu {
namespace {

constexpr int64_t kParallelThreshold = 32768;  // elements; below this, threads cost more
constexpr int64_t kPairwiseBlock = 128;        // elements (rows) summed before combining
constexpr int64_t kColumnBlock = 256;          // output columns per work unit
constexpr int64_t kPieceElements = 32768;      // size of one piece of a split reduced axis
constexpr int64_t kFewUnits = 8;               // fewer units than this: split the reduced axis

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Sum of n contiguous values (see the accuracy note at the top).
template <class A, class T>
A sum_run(const T* x, int64_t n) {
  if (n <= kPairwiseBlock) {
    A lane[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; ++j) lane[j] += static_cast<A>(x[i + j]);
    A tail = 0;
    for (; i < n; ++i) tail += static_cast<A>(x[i]);
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
           ((lane[4] + lane[5]) + (lane[6] + lane[7])) + tail;
  }
  const int64_t half = (n / 2) / 8 * 8;
  return sum_run<A>(x, half) + sum_run<A>(x + half, n - half);
}

template <class A, class T, class Combine>
A combine_run(const T* x, int64_t n, Combine combine) {
  A best = static_cast<A>(x[0]);
  for (int64_t i = 1; i < n; ++i) best = combine(best, static_cast<A>(x[i]));
  return best;
}

template <class A, class T>
A reduce_run(ReduceOp op, const T* x, int64_t n) {
  switch (op) {
    case ReduceOp::Sum:
      return sum_run<A>(x, n);
    case ReduceOp::Max:
      return combine_run<A>(x, n, math::MaxCombine{});
    case ReduceOp::Min:
      return combine_run<A>(x, n, math::MinCombine{});
  }
  return A(0);
}

template <class A>
A combine(ReduceOp op, A a, A b) {
  switch (op) {
    case ReduceOp::Sum:
      return a + b;
    case ReduceOp::Max:
      return math::MaxCombine{}(a, b);
    case ReduceOp::Min:
      return math::MinCombine{}(a, b);
  }
  return a;
}

template <class T>
void reduce_rows(ReduceOp op, const T* x, int64_t outer, int64_t n, T* out) {
  using A = math::accumulator_t<T>;
  const bool parallel = outer * n > kParallelThreshold;
  if (outer >= kFewUnits || n <= 2 * kPieceElements) {
    parallel_range(outer, parallel, [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o)
        out[o] = static_cast<T>(reduce_run<A>(op, x + o * n, n));
    });
    return;
  }
  const int64_t pieces = ceil_div(n, kPieceElements);
  std::vector<A> partial(pieces);
  for (int64_t o = 0; o < outer; ++o) {
    const T* row = x + o * n;
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < pieces; ++p) {
      const int64_t begin = p * kPieceElements;
      partial[p] = reduce_run<A>(op, row + begin, std::min(kPieceElements, n - begin));
    }
    out[o] = static_cast<T>(reduce_run<A>(op, partial.data(), pieces));
  }
}

// Reduces rows [0, rows) of a block of `width` columns (row stride `stride`) into acc.
template <class A, class T>
void reduce_column_block(ReduceOp op, const T* x, int64_t rows, int64_t stride, int64_t width,
                         A* acc) {
  if (op == ReduceOp::Sum) {
    A block[kColumnBlock];
    std::fill(acc, acc + width, A(0));
    for (int64_t r0 = 0; r0 < rows; r0 += kPairwiseBlock) {
      std::fill(block, block + width, A(0));
      const int64_t r1 = std::min(rows, r0 + kPairwiseBlock);
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = x + r * stride;
        for (int64_t j = 0; j < width; ++j) block[j] += static_cast<A>(row[j]);
      }
      for (int64_t j = 0; j < width; ++j) acc[j] += block[j];
    }
    return;
  }
  for (int64_t j = 0; j < width; ++j) acc[j] = static_cast<A>(x[j]);
  for (int64_t r = 1; r < rows; ++r) {
    const T* row = x + r * stride;
    if (op == ReduceOp::Max)
      for (int64_t j = 0; j < width; ++j)
        acc[j] = math::MaxCombine{}(acc[j], static_cast<A>(row[j]));
    else
      for (int64_t j = 0; j < width; ++j)
        acc[j] = math::MinCombine{}(acc[j], static_cast<A>(row[j]));
  }
}

template <class T>
void reduce_columns(ReduceOp op, const T* x, int64_t outer, int64_t n, int64_t inner, T* out) {
  using A = math::accumulator_t<T>;
  const int64_t blocks = ceil_div(inner, kColumnBlock);
  const int64_t units = outer * blocks;
  const bool parallel = outer * n * inner > kParallelThreshold;
  // Rows per piece when the reduced axis is split: enough that each piece is worth a thread.
  const int64_t piece_rows = std::max<int64_t>(kPairwiseBlock, kPieceElements / inner);
  const bool split = parallel && units < kFewUnits && n > 2 * piece_rows;

  if (!split) {
    parallel_range(units, parallel, [&](int64_t begin, int64_t end) {
      for (int64_t u = begin; u < end; ++u) {
        const int64_t o = u / blocks, j0 = (u % blocks) * kColumnBlock;
        const int64_t width = std::min(kColumnBlock, inner - j0);
        A acc[kColumnBlock];
        reduce_column_block(op, x + o * n * inner + j0, n, inner, width, acc);
        for (int64_t j = 0; j < width; ++j) out[o * inner + j0 + j] = static_cast<T>(acc[j]);
      }
    });
    return;
  }
  const int64_t pieces = ceil_div(n, piece_rows);
  std::vector<A> partial(pieces * inner);
  for (int64_t o = 0; o < outer; ++o) {
    const T* base = x + o * n * inner;
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < pieces; ++p) {
      const int64_t r0 = p * piece_rows, rows = std::min(piece_rows, n - r0);
      for (int64_t j0 = 0; j0 < inner; j0 += kColumnBlock)
        reduce_column_block(op, base + r0 * inner + j0, rows, inner,
                            std::min(kColumnBlock, inner - j0), partial.data() + p * inner + j0);
    }
    for (int64_t j = 0; j < inner; ++j) {
      A total = partial[j];
      for (int64_t p = 1; p < pieces; ++p) total = combine(op, total, partial[p * inner + j]);
      out[o * inner + j] = static_cast<T>(total);
    }
  }
}

template <class T, class Better>
void arg_reduce_typed(const T* x, int64_t outer, int64_t n, int64_t inner, T* values,
                      int64_t* indices, Better better) {
  const bool parallel = outer * n * inner > kParallelThreshold;
  if (inner == 1) {
    parallel_range(outer, parallel, [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) {
        const T* row = x + o * n;
        T best = row[0];
        int64_t best_index = 0;
        for (int64_t i = 1; i < n; ++i)
          if (better(row[i], best)) best = row[i], best_index = i;
        values[o] = best;
        indices[o] = best_index;
      }
    });
    return;
  }
  const int64_t blocks = ceil_div(inner, kColumnBlock);
  parallel_range(outer * blocks, parallel, [&](int64_t begin, int64_t end) {
    for (int64_t u = begin; u < end; ++u) {
      const int64_t o = u / blocks, j0 = (u % blocks) * kColumnBlock;
      const int64_t width = std::min(kColumnBlock, inner - j0);
      const T* base = x + o * n * inner + j0;
      T* best = values + o * inner + j0;
      int64_t* best_index = indices + o * inner + j0;
      for (int64_t j = 0; j < width; ++j) best[j] = base[j], best_index[j] = 0;
      for (int64_t r = 1; r < n; ++r) {
        const T* row = base + r * inner;
        for (int64_t j = 0; j < width; ++j)
          if (better(row[j], best[j])) best[j] = row[j], best_index[j] = r;
      }
    }
  });
}

// The dtypes reductions support: floating types and int64 (counts, labels).
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
  visit_reducible(x.dtype(), "reduce", [&](auto tag) {
    using T = decltype(tag);
    T* dst = out.data_ptr<T>();
    if (n == 0) {  // only sums get here (the op rejects empty max / min)
      std::fill(dst, dst + outer * inner, T(0));
      return;
    }
    const T* src = x.data_ptr<T>();
    if (inner == 1)
      reduce_rows(op, src, outer, n, dst);
    else
      reduce_columns(op, src, outer, n, inner, dst);
  });
}

void arg_reduce_kernel(bool is_max, const Tensor& x, int64_t outer, int64_t n, int64_t inner,
                       const Tensor& values, const Tensor& indices) {
  if (outer * inner == 0) return;
  visit_reducible(x.dtype(), "arg_reduce", [&](auto tag) {
    using T = decltype(tag);
    if (is_max)
      arg_reduce_typed(x.data_ptr<T>(), outer, n, inner, values.data_ptr<T>(),
                       indices.data_ptr<int64_t>(), math::ArgMaxBetter{});
    else
      arg_reduce_typed(x.data_ptr<T>(), outer, n, inner, values.data_ptr<T>(),
                       indices.data_ptr<int64_t>(), math::ArgMinBetter{});
  });
}

}  // namespace kite::cpu
