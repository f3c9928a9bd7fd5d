// Four doubles as one SIMD value (GCC/Clang vector extension), for the metrics' hot loops.
//
// Compilers do not vectorise floating-point reductions (dot products) on their own, because
// that reorders the additions. These helpers make the reordering explicit and fixed: four
// lanes, summed pairwise at the end, so results are deterministic for a given length. With
// -march=x86-64-v3 one double4 is one AVX2 register; elsewhere the compiler lowers it to
// scalar or narrower vector code, still correct.
#pragma once

#include <cstddef>
#include <cstring>

namespace kite::metrics::simd {

typedef double double4 __attribute__((vector_size(4 * sizeof(double))));

inline double4 load4(const double* p) {
  double4 v;
  std::memcpy(&v, p, sizeof v);  // unaligned load; compiles to one vmovupd
  return v;
}

inline void store4(double* p, double4 v) { std::memcpy(p, &v, sizeof v); }

inline double4 broadcast4(double x) { return double4{x, x, x, x}; }

inline double sum_lanes(double4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

// sum_i a[i] * b[i], with two vector accumulators to hide FMA latency.
inline double dot(const double* a, const double* b, std::size_t n) {
  double4 acc0 = broadcast4(0.0);
  double4 acc1 = broadcast4(0.0);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 += load4(a + i) * load4(b + i);
    acc1 += load4(a + i + 4) * load4(b + i + 4);
  }
  if (i + 4 <= n) {
    acc0 += load4(a + i) * load4(b + i);
    i += 4;
  }
  double tail = 0.0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return sum_lanes(acc0 + acc1) + tail;
}

}  // namespace kite::metrics::simd
