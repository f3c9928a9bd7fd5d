// Tests for the float64 matrix helpers and the symmetric eigensolver used by FID.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/error.h"
#include "models/metrics/matrix.h"
#include "models/metrics/symmetric_eigen.h"

namespace kite::metrics {
namespace {

Matrix random_matrix(std::size_t rows, std::size_t cols, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  Matrix m(rows, cols);
  for (std::size_t i = 0; i < rows * cols; ++i) m.data()[i] = normal(rng);
  return m;
}

Matrix random_symmetric(std::size_t n, std::mt19937_64& rng) {
  return symmetrize(random_matrix(n, n, rng));
}

// Rows form an orthonormal basis: Gram-Schmidt (applied twice) on Gaussian rows.
Matrix random_orthogonal(std::size_t n, std::mt19937_64& rng) {
  Matrix q = random_matrix(n, n, rng);
  for (std::size_t i = 0; i < n; ++i) {
    for (int pass = 0; pass < 2; ++pass) {
      for (std::size_t j = 0; j < i; ++j) {
        double dot = 0;
        for (std::size_t k = 0; k < n; ++k) dot += q(i, k) * q(j, k);
        for (std::size_t k = 0; k < n; ++k) q(i, k) -= dot * q(j, k);
      }
    }
    double norm = 0;
    for (std::size_t k = 0; k < n; ++k) norm += q(i, k) * q(i, k);
    norm = std::sqrt(norm);
    for (std::size_t k = 0; k < n; ++k) q(i, k) /= norm;
  }
  return q;
}

// Q^T diag(values) Q for Q with orthonormal rows.
Matrix with_spectrum(const std::vector<double>& values, const Matrix& q) {
  const std::size_t n = values.size();
  Matrix a(n, n);
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t c = 0; c < n; ++c) {
      double sum = 0;
      for (std::size_t i = 0; i < n; ++i) sum += q(i, r) * values[i] * q(i, c);
      a(r, c) = sum;
    }
  return symmetrize(a);
}

// E^T diag(values) E where E holds the eigenvectors as rows.
Matrix reconstruct(const SymmetricEigen& eig) { return with_spectrum(eig.values, eig.vectors); }

Matrix naive_product_transposed(const Matrix& a, const Matrix& b) {
  Matrix c(a.rows(), b.rows());
  for (std::size_t i = 0; i < a.rows(); ++i)
    for (std::size_t j = 0; j < b.rows(); ++j) {
      double sum = 0;
      for (std::size_t k = 0; k < a.cols(); ++k) sum += a(i, k) * b(j, k);
      c(i, j) = sum;
    }
  return c;
}

TEST(MetricsMatrix, MultiplyTransposedMatchesNaiveOnAwkwardShapes) {
  std::mt19937_64 rng(1);
  const std::size_t shapes[][3] = {{1, 1, 1},   {7, 5, 13},    {3, 4, 4},     {200, 3, 1},
                                   {2, 300, 9}, {65, 70, 257}, {130, 67, 600}};
  for (const auto& s : shapes) {
    const Matrix a = random_matrix(s[0], s[2], rng);
    const Matrix b = random_matrix(s[1], s[2], rng);
    EXPECT_LT(max_abs_difference(multiply_transposed(a, b), naive_product_transposed(a, b)),
              1e-12 * std::sqrt(double(s[2])))
        << s[0] << "x" << s[1] << "x" << s[2];
  }
}

TEST(MetricsMatrix, TransposeAndChecks) {
  std::mt19937_64 rng(2);
  const Matrix a = random_matrix(37, 50, rng);
  const Matrix t = transpose(a);
  ASSERT_EQ(t.rows(), 50u);
  ASSERT_EQ(t.cols(), 37u);
  for (std::size_t r = 0; r < a.rows(); ++r)
    for (std::size_t c = 0; c < a.cols(); ++c) EXPECT_EQ(t(c, r), a(r, c));
  EXPECT_THROW(multiply_transposed(Matrix(2, 3), Matrix(2, 4)), kite::Error);
  EXPECT_THROW(symmetrize(Matrix(2, 3)), kite::Error);
}

TEST(MetricsEigen, ReconstructsRandomSymmetricMatrices) {
  std::mt19937_64 rng(3);
  for (std::size_t n : {1u, 2u, 3u, 5u, 16u, 64u, 250u}) {
    const Matrix a = random_symmetric(n, rng);
    const SymmetricEigen eig = symmetric_eigen(a);
    ASSERT_EQ(eig.values.size(), n);
    ASSERT_EQ(eig.vectors.rows(), n);
    EXPECT_TRUE(std::is_sorted(eig.values.begin(), eig.values.end()));
    EXPECT_LT(max_abs_difference(reconstruct(eig), a), 1e-10) << "n=" << n;
    EXPECT_LT(
        max_abs_difference(multiply_transposed(eig.vectors, eig.vectors), Matrix::identity(n)),
        1e-10)
        << "n=" << n;
    // A v_i = lambda_i v_i, row by row.
    const Matrix av = multiply_transposed(eig.vectors, a);  // row i: (A v_i)^T
    double residual = 0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < n; ++k)
        residual = std::max(residual, std::abs(av(i, k) - eig.values[i] * eig.vectors(i, k)));
    EXPECT_LT(residual, 1e-10) << "n=" << n;
  }
}

TEST(MetricsEigen, LargeEnoughForTheBlockedAndThreadedPaths) {
  // n = 600 runs several 32-step panels with the chunked (threaded) lower-triangle product,
  // several 64-reflector WY blocks and many rotation-log flushes.
  std::mt19937_64 rng(8);
  const std::size_t n = 600;
  const Matrix a = random_symmetric(n, rng);
  const SymmetricEigen eig = symmetric_eigen(a);
  const Matrix av = multiply_transposed(eig.vectors, a);  // row i: (A v_i)^T
  double residual = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < n; ++k)
      residual = std::max(residual, std::abs(av(i, k) - eig.values[i] * eig.vectors(i, k)));
  EXPECT_LT(residual, 1e-10);
  EXPECT_LT(max_abs_difference(multiply_transposed(eig.vectors, eig.vectors), Matrix::identity(n)),
            1e-10);
  EXPECT_EQ(symmetric_eigenvalues(a), eig.values);
}

TEST(MetricsEigen, RepeatedEigenvaluesAreRecoveredWithOrthonormalVectors) {
  std::mt19937_64 rng(4);
  const std::size_t n = 40;
  std::vector<double> spectrum;
  for (std::size_t i = 0; i < n; ++i) spectrum.push_back(i < 15 ? 1.0 : (i < 30 ? -2.5 : 7.0));
  const Matrix a = with_spectrum(spectrum, random_orthogonal(n, rng));
  const SymmetricEigen eig = symmetric_eigen(a);
  std::vector<double> expected = spectrum;
  std::sort(expected.begin(), expected.end());
  for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(eig.values[i], expected[i], 1e-10) << i;
  EXPECT_LT(max_abs_difference(reconstruct(eig), a), 1e-10);
  EXPECT_LT(max_abs_difference(multiply_transposed(eig.vectors, eig.vectors), Matrix::identity(n)),
            1e-10);
}

TEST(MetricsEigen, WidelySpreadPositiveSpectrumLikeACovariance) {
  std::mt19937_64 rng(5);
  const std::size_t n = 60;
  std::vector<double> spectrum;
  for (std::size_t i = 0; i < n; ++i) spectrum.push_back(std::pow(10.0, -8.0 + 12.0 * i / (n - 1)));
  const Matrix a = with_spectrum(spectrum, random_orthogonal(n, rng));
  const SymmetricEigen eig = symmetric_eigen(a);
  // Eigenvalue errors are bounded by eps * ||A|| (1e4 here), not relative to each value.
  for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(eig.values[i], spectrum[i], 1e-10 * 1e4) << i;
  EXPECT_LT(max_abs_difference(reconstruct(eig), a), 1e-10 * 1e4);
}

TEST(MetricsEigen, SpecialStructures) {
  // Identity, zero, diagonal and already-tridiagonal inputs skip reflections or sweeps.
  const std::size_t n = 30;
  const SymmetricEigen id = symmetric_eigen(Matrix::identity(n));
  for (double v : id.values) EXPECT_EQ(v, 1.0);
  EXPECT_EQ(max_abs_difference(reconstruct(id), Matrix::identity(n)), 0.0);
  for (double v : symmetric_eigenvalues(Matrix(n, n))) EXPECT_EQ(v, 0.0);

  Matrix diagonal(4, 4);
  const double entries[] = {3.0, -1.0, 2.0, 0.5};
  for (int i = 0; i < 4; ++i) diagonal(i, i) = entries[i];
  const std::vector<double> values = symmetric_eigenvalues(diagonal);
  EXPECT_EQ(values, (std::vector<double>{-1.0, 0.5, 2.0, 3.0}));

  // Tridiagonal with 2 on the diagonal and -1 beside it: eigenvalues 2 - 2 cos(k pi/(n+1)).
  Matrix laplacian(n, n);
  for (std::size_t i = 0; i < n; ++i) {
    laplacian(i, i) = 2.0;
    if (i + 1 < n) laplacian(i + 1, i) = laplacian(i, i + 1) = -1.0;
  }
  const SymmetricEigen lap = symmetric_eigen(laplacian);
  for (std::size_t k = 1; k <= n; ++k)
    EXPECT_NEAR(lap.values[k - 1], 2.0 - 2.0 * std::cos(k * M_PI / (n + 1)), 1e-12) << k;
  EXPECT_LT(max_abs_difference(reconstruct(lap), laplacian), 1e-12);

  EXPECT_TRUE(symmetric_eigen(Matrix()).values.empty());
}

TEST(MetricsEigen, ValuesOnlyAgreeWithFullDecompositionAndOnlyLowerTriangleIsRead) {
  std::mt19937_64 rng(6);
  const Matrix a = random_symmetric(45, rng);
  const SymmetricEigen full = symmetric_eigen(a);
  EXPECT_EQ(symmetric_eigenvalues(a), full.values);
  EXPECT_EQ(full.vectors.rows(), 45u);
  EXPECT_EQ(symmetric_eigen(a, false).vectors.rows(), 0u);

  Matrix garbage_upper = a;
  for (std::size_t r = 0; r < 45; ++r)
    for (std::size_t c = r + 1; c < 45; ++c) garbage_upper(r, c) = 1e6 + double(r * c);
  EXPECT_EQ(symmetric_eigenvalues(garbage_upper), full.values);
}

TEST(MetricsEigen, PsdSqrtSquaresBackAndClampsRoundingNegatives) {
  std::mt19937_64 rng(7);
  const std::size_t n = 25;
  std::vector<double> spectrum;
  for (std::size_t i = 0; i < n; ++i) spectrum.push_back(i < 5 ? 0.0 : 0.1 * double(i));
  spectrum[0] = -1e-15;  // what rounding leaves of a zero eigenvalue
  const Matrix a = with_spectrum(spectrum, random_orthogonal(n, rng));
  const Matrix s = psd_sqrt(a);
  for (double v : s.values()) ASSERT_TRUE(std::isfinite(v));
  EXPECT_LT(max_abs_difference(multiply_transposed(s, s), a), 1e-12);  // s symmetric: s s^T = s s
  for (double v : symmetric_eigenvalues(s)) EXPECT_GT(v, -1e-7);
}

TEST(MetricsEigen, RejectsBadInput) {
  EXPECT_THROW(symmetric_eigen(Matrix(3, 4)), kite::Error);
  Matrix a = Matrix::identity(3);
  a(2, 1) = std::nan("");
  EXPECT_THROW(symmetric_eigen(a), kite::Error);
  try {
    symmetric_eigen(a);
  } catch (const kite::Error& e) {
    EXPECT_NE(std::string(e.what()).find("non-finite"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kite::metrics
