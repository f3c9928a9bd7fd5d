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

// Throws kite::Error on mismatched sizes, non-square covariances or non-finite inputs.
double frechet_distance(const std::vector<double>& mean1, const Matrix& covariance1,
                        const std::vector<double>& mean2, const Matrix& covariance2);

double frechet_distance(const GaussianStatistics& a, const GaussianStatistics& b);

// tr sqrt(S1 S2) for symmetric positive semi-definite S1, S2 (the cross term above).
double trace_sqrt_product(const Matrix& covariance1, const Matrix& covariance2);

}  // namespace kite::metrics
