// Batched LU on the CPU: one matrix per OpenMP iteration.
#include "ops/cpu/lu.h"

#include <cmath>
#include <vector>

#include "engine/parallel.h"
#include "ops/math/lu.h"

namespace kite::cpu {

void lu_kernel(const Tensor& a, const Tensor& logabsdet, const Tensor& inverse) {
  const int64_t batch = a.size(0), n = a.size(1);
  visit_floating(a.dtype(), "logabsdet", [&](auto tag) {
    using T = decltype(tag);
    const T* src = a.data_ptr<T>();
    T* det_out = logabsdet.defined() ? logabsdet.data_ptr<T>() : nullptr;
    T* inv_out = inverse.defined() ? inverse.data_ptr<T>() : nullptr;
    bool singular = false;
    parallel_range(batch, batch * n * n * n > 100000, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        std::vector<T> lu(src + b * n * n, src + (b + 1) * n * n);
        std::vector<int64_t> pivots(n);
        T log_abs_det = math::lu_factor(lu.data(), n, pivots.data());
        if (det_out) det_out[b] = log_abs_det;
        if (!inv_out) continue;
        if (!std::isfinite(log_abs_det)) {
#pragma omp atomic write
          singular = true;
          continue;
        }
        // Column j of the inverse solves A x = e_j; the result is written transposed back.
        std::vector<T> column(n);
        T* inv = inv_out + b * n * n;
        for (int64_t j = 0; j < n; ++j) {
          for (int64_t i = 0; i < n; ++i) column[i] = i == j ? T(1) : T(0);
          math::lu_solve(lu.data(), n, pivots.data(), column.data());
          for (int64_t i = 0; i < n; ++i) inv[i * n + j] = column[i];
        }
      }
    });
    KITE_CHECK(!singular, "inverse: matrix is singular (a zero pivot in its LU factorisation)");
  });
}

}  // namespace kite::cpu
