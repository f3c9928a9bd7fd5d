// parallel_range: how the CPU kernels split a loop across OpenMP threads when whether it is
// worth it depends on the call (the tensor's size).
//
//   parallel_range(count, parallel, [&](int64_t begin, int64_t end) {
//     for (int64_t i = begin; i < end; ++i) ...;
//   });
// With `parallel`, each OpenMP thread gets one contiguous piece of [0, count) of nearly equal
// size (as `omp parallel for schedule(static)` would); without, body(0, count) runs once on
// this thread.
//
// Why not `#pragma omp parallel for if (parallel)`: when the condition is false, libgomp still
// opens a parallel region (a team of one thread) on every call, about 0.4 us on the development
// machine: more than a small op's whole kernel (add of two 2x2 tensors took 0.52 us with it,
// 0.17 us without, apps/bench_op_overhead), paid by every small tensor an op touches.
//
// The loop itself stays in the caller, written out: a `#pragma omp simd` loop there vectorises,
// where a helper calling a per-element lambda would leave it scalar (see elementwise.h).
#pragma once

#include <omp.h>

#include <cstdint>

namespace kite {

template <class Body>
void parallel_range(int64_t count, bool parallel, const Body& body) {
  if (count <= 0) return;
  if (!parallel || count == 1) {
    body(int64_t{0}, count);
    return;
  }
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    const int64_t begin = count * thread / threads, end = count * (thread + 1) / threads;
    if (begin < end) body(begin, end);
  }
}

}  // namespace kite
