// Fréchet distance between Gaussians via symmetric eigendecompositions; see frechet_distance.h.
#include "models/metrics/frechet_distance.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "models/metrics/symmetric_eigen.h"

namespace kite::metrics {

namespace {

void check_covariance(const Matrix& c, std::size_t d, const char* name) {
  KITE_CHECK(c.rows() == d && c.cols() == d,
             "frechet_distance: " << name << " is " << c.rows() << "x" << c.cols() << ", expected "
                                  << d << "x" << d);
  for (std::size_t i = 0; i < c.values().size(); ++i) {
    KITE_CHECK(std::isfinite(c.values()[i]),
               "frechet_distance: " << name << " has a non-finite entry " << c.values()[i]
                                    << " at (" << i / d << ", " << i % d << ")");
  }
}

}  // namespace

double trace_sqrt_product(const Matrix& covariance1, const Matrix& covariance2) {
  const std::size_t d = covariance1.rows();
  check_covariance(covariance1, d, "covariance1");
  check_covariance(covariance2, d, "covariance2");
  if (d == 0) return 0.0;
  // S1 = V D V^T and S = S1^1/2 = V D^1/2 V^T. With G = D^1/2 V^T (row i: sqrt(d_i) times
  // eigenvector i), S S2 S = V (G S2 G^T) V^T, so G S2 G^T has the eigenvalues we need.
  const SymmetricEigen eig = symmetric_eigen(symmetrize(covariance1), /*want_vectors=*/true);
  Matrix g(d, d);
  for (std::size_t i = 0; i < d; ++i) {
    const double root = std::sqrt(std::max(eig.values[i], 0.0));
    for (std::size_t j = 0; j < d; ++j) g(i, j) = root * eig.vectors(i, j);
  }
  // G S2 = G S2^T (S2 symmetric), then (G S2) G^T.
  const Matrix g_s2 = multiply_transposed(g, symmetrize(covariance2));
  const Matrix m = symmetrize(multiply_transposed(g_s2, g));
  double total = 0.0;
  for (double lambda : symmetric_eigenvalues(m)) total += std::sqrt(std::max(lambda, 0.0));
  return total;
}

FrechetTerms frechet_terms(const std::vector<double>& mean1, const Matrix& covariance1,
                           const std::vector<double>& mean2, const Matrix& covariance2) {
  const std::size_t d = mean1.size();
  KITE_CHECK(mean2.size() == d,
             "frechet_distance: means have different lengths, " << d << " and " << mean2.size());
  FrechetTerms terms;
  for (std::size_t i = 0; i < d; ++i) {
    KITE_CHECK(std::isfinite(mean1[i]) && std::isfinite(mean2[i]),
               "frechet_distance: non-finite mean entry at " << i);
    const double diff = mean1[i] - mean2[i];
    terms.mean_term += diff * diff;
  }
  check_covariance(covariance1, d, "covariance1");
  check_covariance(covariance2, d, "covariance2");
  terms.spread1 = trace(covariance1);
  terms.spread2 = trace(covariance2);
  terms.covariance_term =
      terms.spread1 + terms.spread2 - 2.0 * trace_sqrt_product(covariance1, covariance2);
  return terms;
}

FrechetTerms frechet_terms(const GaussianStatistics& a, const GaussianStatistics& b) {
  return frechet_terms(a.mean, a.covariance, b.mean, b.covariance);
}

double frechet_distance(const std::vector<double>& mean1, const Matrix& covariance1,
                        const std::vector<double>& mean2, const Matrix& covariance2) {
  return frechet_terms(mean1, covariance1, mean2, covariance2).distance();
}

double frechet_distance(const GaussianStatistics& a, const GaussianStatistics& b) {
  return frechet_distance(a.mean, a.covariance, b.mean, b.covariance);
}

}  // namespace kite::metrics
