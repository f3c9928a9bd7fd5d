// CPU kernels of the elementwise ops (see ops/elementwise_kernels.h for the contract), and
// the strided-loop machinery they share with the copy and fill kernels (ops/cpu/factory.cpp).
//
// Every kernel has up to three paths:
//   1. contiguous inputs: one flat loop the compiler vectorises;
//   2. one input a broadcast scalar: a flat loop with that scalar hoisted;
//   3. anything else: the strided loop below, which walks the inner axis with its strides.
// The flat loops are written out in each kernel rather than through a helper that takes a
// per-element lambda: GCC 12 leaves an `omp parallel for simd` loop calling such a lambda
// scalar (measured 2x slower for add at 1M floats).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "engine/parallel.h"
#include "engine/shape.h"
#include "engine/tensor.h"
#include "ops/math/elementwise.h"

namespace kite::cpu {

// Below this many elements a loop runs on one thread: starting a parallel region costs a
// few microseconds, more than the work it would split (and the loop is not even put in a
// one-thread region: see parallel.h).
inline constexpr int64_t kParallelThreshold = 32768;

void unary_kernel(UnaryOp op, const UnaryParams& params, const Tensor& x, const Tensor& out);
void binary_kernel(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
void where_kernel(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);

// ---- Strided iteration over N operands of the same shape ----

// The iteration space of an elementwise loop: a shape and each operand's strides (in
// elements), simplified: size-1 axes are dropped, and neighbouring axes are merged when
// every operand steps through them as through one axis (so a contiguous block, even inside
// a broadcast, becomes one long inner row).
template <size_t N>
struct StridedLoop {
  Shape shape;
  std::array<Shape, N> strides;
};

template <size_t N>
StridedLoop<N> make_strided_loop(const Shape& shape, const std::array<Shape, N>& strides) {
  StridedLoop<N> loop;
  // Walk from the innermost axis outwards, appending to the (reversed) result.
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 1) continue;
    if (!loop.shape.empty()) {
      const int64_t inner_size = loop.shape.back();
      bool mergeable = true;
      for (size_t k = 0; k < N; ++k)
        mergeable = mergeable && strides[k][i] == loop.strides[k].back() * inner_size;
      if (mergeable) {
        loop.shape.back() *= shape[i];
        continue;
      }
    }
    loop.shape.push_back(shape[i]);
    for (size_t k = 0; k < N; ++k) loop.strides[k].push_back(strides[k][i]);
  }
  std::reverse(loop.shape.begin(), loop.shape.end());
  for (size_t k = 0; k < N; ++k) std::reverse(loop.strides[k].begin(), loop.strides[k].end());
  return loop;
}

// Calls row(offsets, count, steps) for runs of consecutive elements along the innermost
// axis: offsets[k] is operand k's element offset of the run's first element, steps[k] its
// stride along the run. Elements are split evenly over OpenMP threads by flat index (a row
// may be cut between two threads), so a single long strided row is parallel too.
template <size_t N, class Row>
void for_each_row(const StridedLoop<N>& loop, const Row& row) {
  const int64_t dim = static_cast<int64_t>(loop.shape.size());
  if (dim == 0) {  // a single element (0-d, or every axis of size 1)
    const std::array<int64_t, N> zero{};
    row(zero, int64_t{1}, zero);
    return;
  }
  const int64_t n = numel_of(loop.shape);
  if (n == 0) return;
  const int64_t inner = loop.shape[dim - 1];
  std::array<int64_t, N> steps;
  for (size_t k = 0; k < N; ++k) steps[k] = loop.strides[k][dim - 1];

  auto run_range = [&](int64_t begin, int64_t end) {
    // Multi-index and operand offsets of `begin`, then an odometer walk to `end`.
    Shape index(dim);
    std::array<int64_t, N> offsets{};
    int64_t rest = begin;
    for (int64_t d = dim - 1; d >= 0; --d) {
      index[d] = rest % loop.shape[d];
      rest /= loop.shape[d];
      for (size_t k = 0; k < N; ++k) offsets[k] += index[d] * loop.strides[k][d];
    }
    for (int64_t pos = begin; pos < end;) {
      const int64_t count = std::min(inner - index[dim - 1], end - pos);
      row(offsets, count, steps);
      pos += count;
      index[dim - 1] += count;
      for (size_t k = 0; k < N; ++k) offsets[k] += count * steps[k];
      if (index[dim - 1] < inner) continue;
      // Carry into the outer axes.
      index[dim - 1] = 0;
      for (size_t k = 0; k < N; ++k) offsets[k] -= inner * steps[k];
      for (int64_t d = dim - 2; d >= 0; --d) {
        ++index[d];
        for (size_t k = 0; k < N; ++k) offsets[k] += loop.strides[k][d];
        if (index[d] < loop.shape[d]) break;
        index[d] = 0;
        for (size_t k = 0; k < N; ++k) offsets[k] -= loop.shape[d] * loop.strides[k][d];
      }
    }
  };

  parallel_range(n, n > kParallelThreshold, run_range);
}

// True when every axis of t that has more than one element has stride 0: t is one value
// broadcast to its shape.
inline bool is_broadcast_scalar(const Tensor& t) {
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.shape()[d] != 1 && t.strides()[d] != 0) return false;
  return true;
}

}  // namespace kite::cpu
