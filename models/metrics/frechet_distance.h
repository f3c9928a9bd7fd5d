// Fréchet distance between two Gaussians: the number that FID reports.
//
//   d^2 = |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2)
//
// tr sqrt(S1 S2) is computed without a general (non-symmetric) matrix square root: with
// S = S1^1/2 = V D^1/2 V^T from the symmetric eigensolver (negative eigenvalues from
// rounding clamped to 0), S1 S2 is similar to M = S S2 S, which is symmetric positive
// semi-definite, so tr sqrt(S1 S2) = sum_i sqrt(max(lambda_i(M), 0)). M itself is formed as
// V^T M V = D^1/2 (V^T S2 V) D^1/2 (same eigenvalues, one product fewer), symmetrised
// before its eigenvalues are taken. Everything is float64. pytorch-fid instead calls
// scipy.linalg.sqrtm on the product and discards imaginary parts; the two agree wherever
// sqrtm is accurate, and this form needs no epsilon offset for singular covariances.
#pragma once

#include <vector>

#include "models/metrics/feature_stats.h"
#include "models/metrics/matrix.h"

namespace kite::metrics {

// The distance split into what moved it: how far apart the means are, and how differently the
// features spread. spread1 / spread2 (the total variances tr S1, tr S2) tell too little
// diversity (ratio below 1) from too much.
struct FrechetTerms {
  double mean_term = 0;        // |mu1 - mu2|^2
  double covariance_term = 0;  // tr S1 + tr S2 - 2 tr sqrt(S1 S2), >= 0 up to rounding
  double spread1 = 0, spread2 = 0;
  double distance() const { return mean_term + covariance_term; }
};

// Throws kite::Error on mismatched sizes, non-square covariances or non-finite inputs.
double frechet_distance(const std::vector<double>& mean1, const Matrix& covariance1,
                        const std::vector<double>& mean2, const Matrix& covariance2);

double frechet_distance(const GaussianStatistics& a, const GaussianStatistics& b);

// The same checks and arithmetic as frechet_distance, term by term.
FrechetTerms frechet_terms(const std::vector<double>& mean1, const Matrix& covariance1,
                           const std::vector<double>& mean2, const Matrix& covariance2);
FrechetTerms frechet_terms(const GaussianStatistics& a, const GaussianStatistics& b);

// tr sqrt(S1 S2) for symmetric positive semi-definite S1, S2 (the cross term above).
double trace_sqrt_product(const Matrix& covariance1, const Matrix& covariance2);

}  // namespace kite::metrics
