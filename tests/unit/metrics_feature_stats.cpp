// Tests for the streaming float64 mean/covariance accumulator behind FID statistics.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/error.h"
#include "models/metrics/feature_stats.h"

namespace kite::metrics {
namespace {

std::vector<double> gaussian_rows(std::size_t n, std::size_t d, std::uint64_t seed,
                                  double offset = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> rows(n * d);
  // Correlated features: x_j = z_j + 0.5 z_{j-1}, plus a per-feature mean.
  std::vector<double> z(d);
  for (std::size_t r = 0; r < n; ++r) {
    for (double& v : z) v = normal(rng);
    for (std::size_t j = 0; j < d; ++j)
      rows[r * d + j] = offset + 0.1 * double(j) + z[j] + (j > 0 ? 0.5 * z[j - 1] : 0.0);
  }
  return rows;
}

// Two-pass textbook mean and covariance in long double, as the reference.
void two_pass(const std::vector<double>& rows, std::size_t n, std::size_t d,
              std::vector<double>& mean, Matrix& cov) {
  std::vector<long double> m(d, 0.0L);
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t j = 0; j < d; ++j) m[j] += rows[r * d + j];
  for (auto& v : m) v /= n;
  cov = Matrix(d, d);
  for (std::size_t j = 0; j < d; ++j)
    for (std::size_t k = 0; k < d; ++k) {
      long double sum = 0.0L;
      for (std::size_t r = 0; r < n; ++r)
        sum += (rows[r * d + j] - m[j]) * (rows[r * d + k] - m[k]);
      cov(j, k) = static_cast<double>(sum / (n - 1));
    }
  mean.assign(m.begin(), m.end());
}

TEST(MetricsFeatureStats, ThreeValuesGiveMeanHalfAndVarianceQuarter) {
  const double values[] = {0.0, 0.5, 1.0};
  FeatureStats stats;
  stats.add(values, 3, 1);
  EXPECT_EQ(stats.count(), 3u);
  EXPECT_EQ(stats.dim(), 1u);
  EXPECT_NEAR(stats.mean()[0], 0.5, 1e-15);
  EXPECT_NEAR(stats.covariance()(0, 0), 0.25, 1e-15);
}

TEST(MetricsFeatureStats, MatchesTwoPassReference) {
  const std::size_t n = 157, d = 21;
  const std::vector<double> rows = gaussian_rows(n, d, 1);
  FeatureStats stats;
  stats.add(rows.data(), n, d);
  std::vector<double> mean;
  Matrix cov;
  two_pass(rows, n, d, mean, cov);
  for (std::size_t j = 0; j < d; ++j) EXPECT_NEAR(stats.mean()[j], mean[j], 1e-13);
  EXPECT_LT(max_abs_difference(stats.covariance(), cov), 1e-13);
  const GaussianStatistics both = stats.statistics();
  EXPECT_EQ(both.mean, stats.mean());
  EXPECT_EQ(max_abs_difference(both.covariance, stats.covariance()), 0.0);
}

TEST(MetricsFeatureStats, LargeCommonOffsetLosesNoPrecision) {
  // Unit-scale features shifted by +1e4: a sum-of-squares formula would subtract numbers of
  // size n * 1e8 and lose about 8 of its 16 digits (errors ~1e-8 and up). The shifted sums
  // keep the covariance to the rounding of the offset data itself (~1e-12).
  const std::size_t n = 2000, d = 12;
  const std::vector<double> plain = gaussian_rows(n, d, 2);
  std::vector<double> offset = plain;
  for (double& v : offset) v += 1e4;
  FeatureStats a, b;
  a.add(plain.data(), n, d);
  b.add(offset.data(), n, d);
  for (std::size_t j = 0; j < d; ++j) EXPECT_NEAR(b.mean()[j] - 1e4, a.mean()[j], 1e-10);
  EXPECT_LT(max_abs_difference(a.covariance(), b.covariance()), 1e-10);
  // And the offset statistics match the long double two-pass reference.
  std::vector<double> mean;
  Matrix cov;
  two_pass(offset, n, d, mean, cov);
  EXPECT_LT(max_abs_difference(b.covariance(), cov), 1e-10);
}

TEST(MetricsFeatureStats, BitwiseIndependentOfBatchSize) {
  const std::size_t n = 300, d = 37;  // d not a multiple of the 8-column tiles
  const std::vector<double> rows = gaussian_rows(n, d, 3, 5.0);
  FeatureStats whole;
  whole.add(rows.data(), n, d);
  for (std::size_t batch : {1u, 3u, 64u, 127u, 128u, 129u, 299u}) {
    FeatureStats batched;
    for (std::size_t r = 0; r < n; r += batch)
      batched.add(rows.data() + r * d, std::min(batch, n - r), d);
    EXPECT_EQ(batched.count(), n);
    EXPECT_EQ(batched.mean(), whole.mean()) << "batch " << batch;
    EXPECT_EQ(max_abs_difference(batched.covariance(), whole.covariance()), 0.0)
        << "batch " << batch;
  }
}

TEST(MetricsFeatureStats, WideFeaturesUseTheThreadedPathConsistently) {
  // A full 128-row chunk of 300 features is enough work for the OpenMP tile loop; the
  // rest arrives in smaller, serial pieces. Both must agree with the reference.
  const std::size_t n = 200, d = 300;
  const std::vector<double> rows = gaussian_rows(n, d, 4);
  FeatureStats stats;
  stats.add(rows.data(), 150, d);
  stats.add(rows.data() + 150 * d, n - 150, d);
  std::vector<double> mean;
  Matrix cov;
  two_pass(rows, n, d, mean, cov);
  EXPECT_LT(max_abs_difference(stats.covariance(), cov), 1e-12);
  const Matrix c = stats.covariance();
  for (std::size_t j = 0; j < d; ++j)
    for (std::size_t k = 0; k < j; ++k) ASSERT_EQ(c(j, k), c(k, j));
}

TEST(MetricsFeatureStats, FloatRowsEqualTheirDoubleValues) {
  const std::size_t n = 50, d = 9;
  std::vector<float> f(n * d);
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal;
  for (float& v : f) v = normal(rng);
  const std::vector<double> as_double(f.begin(), f.end());
  FeatureStats from_float, from_double;
  from_float.add(f.data(), n, d);
  from_double.add(as_double.data(), n, d);
  EXPECT_EQ(from_float.mean(), from_double.mean());
  EXPECT_EQ(max_abs_difference(from_float.covariance(), from_double.covariance()), 0.0);
}

TEST(MetricsFeatureStats, MergeEqualsOneStream) {
  const std::size_t n = 400, d = 15;
  const std::vector<double> rows = gaussian_rows(n, d, 6, 100.0);
  FeatureStats whole, first, second, empty;
  whole.add(rows.data(), n, d);
  first.add(rows.data(), 150, d);
  second.add(rows.data() + 150 * d, n - 150, d);
  first.merge(second);
  first.merge(empty);
  EXPECT_EQ(first.count(), n);
  for (std::size_t j = 0; j < d; ++j) EXPECT_NEAR(first.mean()[j], whole.mean()[j], 1e-12);
  EXPECT_LT(max_abs_difference(first.covariance(), whole.covariance()), 1e-12);
  empty.merge(whole);  // merging into an empty accumulator copies
  EXPECT_EQ(empty.mean(), whole.mean());
}

TEST(MetricsFeatureStats, RejectsInconsistentOrInsufficientInput) {
  FeatureStats stats;
  EXPECT_THROW(stats.mean(), kite::Error);
  const double row[] = {1.0, 2.0, 3.0};
  stats.add(row, 1, 3);
  EXPECT_THROW(stats.covariance(), kite::Error);  // N - 1 = 0
  EXPECT_THROW(stats.add(row, 1, 2), kite::Error);
  // A batch with a non-finite value is rejected whole: the accumulator is unchanged.
  const double bad[] = {4.0, 5.0, 6.0, 1.0, std::nan(""), 3.0};
  EXPECT_THROW(stats.add(bad, 2, 3), kite::Error);
  EXPECT_EQ(stats.count(), 1u);
  EXPECT_EQ(stats.mean(), (std::vector<double>{1.0, 2.0, 3.0}));
  FeatureStats other(2);
  other.add(row, 1, 2);
  EXPECT_THROW(stats.merge(other), kite::Error);
}

}  // namespace
}  // namespace kite::metrics
