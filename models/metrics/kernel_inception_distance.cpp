// Kernel Inception Distance: subset-averaged unbiased polynomial-kernel MMD^2; see the header.
#include "models/metrics/kernel_inception_distance.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>
#include <vector>

#include "engine/error.h"
#include "models/metrics/matrix.h"

namespace kite::metrics {

namespace {

// splitmix64: a tiny, well-mixed generator whose output is fully specified, unlike the
// distributions of <random>, whose results differ between standard libraries.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound), without modulo bias (rejects the short top range).
  std::uint64_t below(std::uint64_t bound) {
    const std::uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
    for (;;) {
      const std::uint64_t r = next();
      if (r >= threshold) return r % bound;
    }
  }

 private:
  std::uint64_t state_;
};

// A uniformly random m-subset: a partial Fisher-Yates shuffle of `order` (any permutation
// is a valid start, so the array is simply reused between draws).
void draw_subset(std::vector<std::size_t>& order, std::size_t m, SplitMix64& rng) {
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t j = i + static_cast<std::size_t>(rng.below(order.size() - i));
    std::swap(order[i], order[j]);
  }
}

void gather_rows(const double* rows, std::size_t d, const std::vector<std::size_t>& order,
                 std::size_t m, std::vector<double>& out) {
  out.resize(m * d);
  for (std::size_t i = 0; i < m; ++i)
    std::copy(rows + order[i] * d, rows + (order[i] + 1) * d, out.data() + i * d);
}

double cubic_kernel(double dot, double inv_d) {
  const double base = dot * inv_d + 1.0;
  return base * base * base;
}

// Sum of k over all entries of the Gram matrix a b^T, optionally skipping the diagonal.
double kernel_sum(const double* a, const double* b, std::size_t m, std::size_t d,
                  bool skip_diagonal, std::vector<double>& gram) {
  gram.resize(m * m);
  multiply_transposed(a, b, gram.data(), m, m, d);
  const double inv_d = 1.0 / static_cast<double>(d);
  double total = 0.0;
  for (std::size_t i = 0; i < m; ++i) {
    double row_total = 0.0;
    for (std::size_t j = 0; j < m; ++j) {
      if (skip_diagonal && i == j) continue;
      row_total += cubic_kernel(gram[i * m + j], inv_d);
    }
    total += row_total;
  }
  return total;
}

double mmd2(const double* x, const double* y, std::size_t m, std::size_t d,
            std::vector<double>& gram) {
  const double mm = static_cast<double>(m);
  const double within = kernel_sum(x, x, m, d, true, gram) + kernel_sum(y, y, m, d, true, gram);
  const double across = kernel_sum(x, y, m, d, false, gram);
  return within / (mm * (mm - 1.0)) - 2.0 * across / (mm * mm);
}

void check_sample(const double* rows, std::size_t n, std::size_t d, const char* name) {
  KITE_CHECK(n >= 2, "kernel_inception_distance: sample " << name << " has " << n
                                                          << " rows, needs at least 2");
  KITE_CHECK(rows != nullptr, "kernel_inception_distance: sample " << name << " is null");
  for (std::size_t i = 0; i < n * d; ++i) {
    KITE_CHECK(std::isfinite(rows[i]), "kernel_inception_distance: sample "
                                           << name << " has a non-finite value at row " << i / d
                                           << ", feature " << i % d);
  }
}

}  // namespace

double polynomial_mmd2_unbiased(const double* x, const double* y, std::size_t m, std::size_t d) {
  KITE_CHECK(d > 0, "polynomial_mmd2_unbiased: feature dimension must be positive");
  check_sample(x, m, d, "x");
  check_sample(y, m, d, "y");
  std::vector<double> gram;
  return mmd2(x, y, m, d, gram);
}

KidResult kernel_inception_distance(const double* x, std::size_t nx, const double* y,
                                    std::size_t ny, std::size_t d, const KidOptions& options) {
  KITE_CHECK(d > 0, "kernel_inception_distance: feature dimension must be positive");
  KITE_CHECK(options.subsets > 0, "kernel_inception_distance: subsets must be positive");
  KITE_CHECK(options.subset_size >= 2,
             "kernel_inception_distance: subset_size must be >= 2, got " << options.subset_size);
  check_sample(x, nx, d, "x");
  check_sample(y, ny, d, "y");
  const std::size_t m = std::min({options.subset_size, nx, ny});

  SplitMix64 rng(options.seed);
  std::vector<std::size_t> order_x(nx), order_y(ny);
  std::iota(order_x.begin(), order_x.end(), std::size_t{0});
  std::iota(order_y.begin(), order_y.end(), std::size_t{0});
  std::vector<double> subset_x, subset_y, gram;
  std::vector<double> values(options.subsets);
  for (std::size_t s = 0; s < options.subsets; ++s) {
    draw_subset(order_x, m, rng);
    draw_subset(order_y, m, rng);
    gather_rows(x, d, order_x, m, subset_x);
    gather_rows(y, d, order_y, m, subset_y);
    values[s] = mmd2(subset_x.data(), subset_y.data(), m, d, gram);
  }

  KidResult result;
  result.subsets = options.subsets;
  result.subset_size = m;
  const double count = static_cast<double>(values.size());
  result.mean = std::accumulate(values.begin(), values.end(), 0.0) / count;
  double squares = 0.0;
  for (double v : values) squares += (v - result.mean) * (v - result.mean);
  result.std = std::sqrt(squares / count);
  return result;
}

KidResult kernel_inception_distance(const float* x, std::size_t nx, const float* y, std::size_t ny,
                                    std::size_t d, const KidOptions& options) {
  const std::vector<double> xd(x, x + nx * d);
  const std::vector<double> yd(y, y + ny * d);
  return kernel_inception_distance(xd.data(), nx, yd.data(), ny, d, options);
}

}  // namespace kite::metrics
