// Tests for the Fréchet distance (FID formula) against the closed forms of REFERENCES.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "engine/error.h"
#include "models/metrics/feature_stats.h"
#include "models/metrics/frechet_distance.h"
#include "models/metrics/matrix.h"

namespace kite::metrics {
namespace {

Matrix random_matrix(std::size_t rows, std::size_t cols, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  Matrix m(rows, cols);
  for (std::size_t i = 0; i < rows * cols; ++i) m.data()[i] = normal(rng);
  return m;
}

// A random covariance: W W^T / k for a d x k Gaussian W (full rank when k >= d).
Matrix random_covariance(std::size_t d, std::size_t k, std::mt19937_64& rng) {
  const Matrix w = random_matrix(d, k, rng);
  Matrix c = multiply_transposed(w, w);
  for (std::size_t i = 0; i < d * d; ++i) c.data()[i] /= double(k);
  return symmetrize(c);
}

std::vector<double> random_vector(std::size_t d, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  std::vector<double> v(d);
  for (double& x : v) x = normal(rng);
  return v;
}

Matrix random_orthogonal(std::size_t n, std::mt19937_64& rng) {
  Matrix q = random_matrix(n, n, rng);
  for (std::size_t i = 0; i < n; ++i) {
    for (int pass = 0; pass < 2; ++pass)
      for (std::size_t j = 0; j < i; ++j) {
        double dot = 0;
        for (std::size_t k = 0; k < n; ++k) dot += q(i, k) * q(j, k);
        for (std::size_t k = 0; k < n; ++k) q(i, k) -= dot * q(j, k);
      }
    double norm = 0;
    for (std::size_t k = 0; k < n; ++k) norm += q(i, k) * q(i, k);
    for (std::size_t k = 0; k < n; ++k) q(i, k) /= std::sqrt(norm);
  }
  return q;
}

Matrix mat2(double a, double b, double c, double d) {
  const double v[] = {a, b, c, d};
  return Matrix::from_row_major(2, 2, v);
}

TEST(MetricsFrechet, ClosedFormsFromReferences) {
  const std::vector<double> zero2 = {0.0, 0.0};
  // S1 = diag(1, 4), S2 = [[2, 1], [1, 2]], equal means.
  EXPECT_NEAR(frechet_distance(zero2, mat2(1, 0, 0, 4), zero2, mat2(2, 1, 1, 2)),
              0.7712204476543416, 1e-12);
  // S1 = [[2, 1], [1, 2]], S2 = I.
  EXPECT_NEAR(frechet_distance(zero2, mat2(2, 1, 1, 2), zero2, Matrix::identity(2)),
              4.0 - 2.0 * std::sqrt(3.0), 1e-12);
}

TEST(MetricsFrechet, TermsSplitTheDistance) {
  // Equal means: all of the closed form is covariance; tr S1 = 5, tr S2 = 4.
  const std::vector<double> zero2 = {0.0, 0.0}, shifted = {3.0, -4.0};
  FrechetTerms t = frechet_terms(zero2, mat2(1, 0, 0, 4), zero2, mat2(2, 1, 1, 2));
  EXPECT_EQ(t.mean_term, 0.0);
  EXPECT_NEAR(t.covariance_term, 0.7712204476543416, 1e-12);
  EXPECT_EQ(t.spread1, 5.0);
  EXPECT_EQ(t.spread2, 4.0);
  // Equal covariances: all of it is the squared mean shift, 3^2 + 4^2.
  t = frechet_terms(shifted, mat2(2, 1, 1, 2), zero2, mat2(2, 1, 1, 2));
  EXPECT_NEAR(t.mean_term, 25.0, 1e-12);
  EXPECT_NEAR(t.covariance_term, 0.0, 1e-12);
  // Both, and the total is frechet_distance's.
  t = frechet_terms(shifted, mat2(1, 0, 0, 4), zero2, mat2(2, 1, 1, 2));
  EXPECT_NEAR(t.distance(), 25.7712204476543416, 1e-12);
  EXPECT_EQ(t.distance(), frechet_distance(shifted, mat2(1, 0, 0, 4), zero2, mat2(2, 1, 1, 2)));
  // Half the variance on every axis (S1 = I / 2, S2 = I, d = 2): each axis adds
  // (sqrt(1/2) - 1)^2 = 1/2 + 1 - 2 sqrt(1/2), and the spread ratio is 1/2.
  Matrix half = Matrix::identity(2);
  half(0, 0) = half(1, 1) = 0.5;
  t = frechet_terms(zero2, half, zero2, Matrix::identity(2));
  EXPECT_NEAR(t.covariance_term, 2.0 * (1.5 - 2.0 * std::sqrt(0.5)), 1e-12);
  EXPECT_EQ(t.spread1 / t.spread2, 0.5);
}

TEST(MetricsFrechet, IdentityCovariancesUnitMeanShiftAtInceptionSize) {
  const std::size_t d = 2048;  // the Inception feature size
  const std::vector<double> mu1(d, 0.0), mu2(d, 1.0);
  const Matrix identity = Matrix::identity(d);
  EXPECT_NEAR(frechet_distance(mu1, identity, mu2, identity), double(d), 1e-12);
}

TEST(MetricsFrechet, IdenticalStatisticsGiveZero) {
  std::mt19937_64 rng(11);
  for (std::size_t d : {1u, 3u, 64u, 200u}) {
    const Matrix s = random_covariance(d, d + 10, rng);
    const std::vector<double> mu = random_vector(d, rng);
    EXPECT_NEAR(frechet_distance(mu, s, mu, s), 0.0, 1e-12 * trace(s)) << "d=" << d;
  }
}

TEST(MetricsFrechet, TwoByTwoClosedFormOnRandomPairs) {
  // For 2x2 M with non-negative eigenvalues: tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)), and
  // det(S1 S2) = det S1 det S2.
  std::mt19937_64 rng(12);
  for (int trial = 0; trial < 50; ++trial) {
    const Matrix s1 = random_covariance(2, 3, rng);
    const Matrix s2 = random_covariance(2, 3, rng);
    const Matrix product = multiply_transposed(s1, s2);  // S1 S2^T = S1 S2
    const double det =
        (s1(0, 0) * s1(1, 1) - s1(0, 1) * s1(1, 0)) * (s2(0, 0) * s2(1, 1) - s2(0, 1) * s2(1, 0));
    const double expected = std::sqrt(trace(product) + 2.0 * std::sqrt(std::max(det, 0.0)));
    EXPECT_NEAR(trace_sqrt_product(s1, s2), expected, 1e-12 * expected) << trial;
  }
}

TEST(MetricsFrechet, CommutingCovariancesMatchProductOfSpectra) {
  // S1 = Q^T diag(a) Q, S2 = Q^T diag(b) Q: tr sqrt(S1 S2) = sum sqrt(a_i b_i), in any d.
  std::mt19937_64 rng(13);
  const std::size_t d = 48;
  const Matrix q = random_orthogonal(d, rng);
  auto build = [&](const std::vector<double>& spectrum) {
    Matrix m(d, d);
    for (std::size_t r = 0; r < d; ++r)
      for (std::size_t c = 0; c < d; ++c) {
        double sum = 0;
        for (std::size_t i = 0; i < d; ++i) sum += q(i, r) * spectrum[i] * q(i, c);
        m(r, c) = sum;
      }
    return symmetrize(m);
  };
  std::uniform_real_distribution<double> uniform(0.1, 5.0);
  std::vector<double> a(d), b(d);
  for (std::size_t i = 0; i < d; ++i) a[i] = uniform(rng), b[i] = uniform(rng);
  auto expected_for = [&]() {
    double total = 0;
    for (std::size_t i = 0; i < d; ++i) total += std::sqrt(a[i] * b[i]);
    return total;
  };
  const double full_rank = expected_for();
  EXPECT_NEAR(trace_sqrt_product(build(a), build(b)), full_rank, 1e-12 * full_rank);

  // Rank-deficient S1 (every 6th eigenvalue 0). Rounding turns each zero eigenvalue of M
  // into some +-1e-15, whose square root (~3e-8) lands in the sum: the error is of order
  // sqrt(eps) per zero eigenvalue, for this method as for any sqrtm-based FID.
  for (std::size_t i = 0; i < d; i += 6) a[i] = 0.0;
  EXPECT_NEAR(trace_sqrt_product(build(a), build(b)), expected_for(), 8 * 1e-7);
}

// Inverse by Gauss-Jordan elimination with partial pivoting (test reference only).
Matrix inverse(Matrix a) {
  const std::size_t n = a.rows();
  Matrix inv = Matrix::identity(n);
  for (std::size_t col = 0; col < n; ++col) {
    std::size_t pivot = col;
    for (std::size_t r = col + 1; r < n; ++r)
      if (std::abs(a(r, col)) > std::abs(a(pivot, col))) pivot = r;
    for (std::size_t c = 0; c < n; ++c) {
      std::swap(a(col, c), a(pivot, c));
      std::swap(inv(col, c), inv(pivot, c));
    }
    const double scale = 1.0 / a(col, col);
    for (std::size_t c = 0; c < n; ++c) a(col, c) *= scale, inv(col, c) *= scale;
    for (std::size_t r = 0; r < n; ++r) {
      if (r == col) continue;
      const double f = a(r, col);
      for (std::size_t c = 0; c < n; ++c) a(r, c) -= f * a(col, c), inv(r, c) -= f * inv(col, c);
    }
  }
  return inv;
}

TEST(MetricsFrechet, AgreesWithDenmanBeaversSquareRootOfTheProduct) {
  // An independent route to tr sqrt(S1 S2): the Denman-Beavers iteration on the
  // non-symmetric product (Y -> (S1 S2)^1/2, Z -> (S1 S2)^-1/2), which converges because
  // S1 S2 is similar to a positive definite matrix.
  std::mt19937_64 rng(15);
  const std::size_t d = 40;
  const Matrix s1 = random_covariance(d, 60, rng);
  const Matrix s2 = random_covariance(d, 90, rng);
  Matrix y = multiply_transposed(s1, s2);  // S1 S2 (S2 symmetric)
  Matrix z = Matrix::identity(d);
  for (int iteration = 0; iteration < 40; ++iteration) {
    const Matrix y_inv = inverse(y), z_inv = inverse(z);
    for (std::size_t i = 0; i < d * d; ++i) {
      y.data()[i] = 0.5 * (y.data()[i] + z_inv.data()[i]);
      z.data()[i] = 0.5 * (z.data()[i] + y_inv.data()[i]);
    }
  }
  const double expected = trace(y);
  EXPECT_NEAR(trace_sqrt_product(s1, s2), expected, 1e-10 * expected);
}

TEST(MetricsFrechet, SymmetricInItsArgumentsAndRotationInvariant) {
  std::mt19937_64 rng(14);
  const std::size_t d = 50;
  const Matrix s1 = random_covariance(d, 80, rng);
  const Matrix s2 = random_covariance(d, 60, rng);
  const std::vector<double> mu1 = random_vector(d, rng), mu2 = random_vector(d, rng);
  const double fid = frechet_distance(mu1, s1, mu2, s2);
  EXPECT_GT(fid, 1.0);
  EXPECT_NEAR(frechet_distance(mu2, s2, mu1, s1), fid, 1e-12 * fid);

  // x -> R x maps means to R mu and covariances to R S R^T.
  const Matrix r = random_orthogonal(d, rng);
  auto rotate = [&](const Matrix& s) {
    return symmetrize(multiply_transposed(multiply_transposed(r, s), r));  // R S R^T
  };
  auto rotate_vector = [&](const std::vector<double>& v) {
    std::vector<double> out(d, 0.0);
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t k = 0; k < d; ++k) out[i] += r(i, k) * v[k];
    return out;
  };
  EXPECT_NEAR(frechet_distance(rotate_vector(mu1), rotate(s1), rotate_vector(mu2), rotate(s2)), fid,
              1e-10 * fid);
}

TEST(MetricsFrechet, FiniteSampleBiasIsPositiveAndShrinksWithSampleCount) {
  // Two independent samples of the same N(0, I): the true distance is 0, the estimate is
  // biased upwards by roughly d^2 / N terms. Averaged over a few seeds for stability.
  const std::size_t d = 8;
  std::vector<double> mean_fid;
  for (std::size_t n : {100u, 400u, 1600u}) {
    double total = 0;
    for (std::uint64_t seed = 0; seed < 4; ++seed) {
      std::mt19937_64 rng(100 + seed);
      const Matrix x = random_matrix(n, d, rng);
      const Matrix y = random_matrix(n, d, rng);
      FeatureStats sx, sy;
      sx.add(x.data(), n, d);
      sy.add(y.data(), n, d);
      const double fid = frechet_distance(sx.statistics(), sy.statistics());
      EXPECT_GT(fid, 0.0) << "n=" << n << " seed=" << seed;
      total += fid;
    }
    mean_fid.push_back(total / 4);
  }
  EXPECT_GT(mean_fid[0], 2.0 * mean_fid[1]);
  EXPECT_GT(mean_fid[1], 2.0 * mean_fid[2]);
}

TEST(MetricsFrechet, RejectsMismatchedOrNonFiniteInput) {
  const std::vector<double> mu2 = {0.0, 0.0}, mu3 = {0.0, 0.0, 0.0};
  EXPECT_THROW(frechet_distance(mu2, Matrix::identity(2), mu3, Matrix::identity(3)), kite::Error);
  EXPECT_THROW(frechet_distance(mu2, Matrix::identity(3), mu2, Matrix::identity(2)), kite::Error);
  Matrix bad = Matrix::identity(2);
  bad(0, 1) = std::numeric_limits<double>::infinity();
  EXPECT_THROW(frechet_distance(mu2, Matrix::identity(2), mu2, bad), kite::Error);
  EXPECT_THROW(frechet_distance({0.0, std::nan("")}, Matrix::identity(2), mu2, Matrix::identity(2)),
               kite::Error);
}

}  // namespace
}  // namespace kite::metrics
