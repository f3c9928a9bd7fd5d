// Eigenvalues and eigenvectors of a real symmetric matrix, in float64.
//
// Method: Householder reduction to tridiagonal form, then the implicit QL algorithm with
// Wilkinson-style shifts on the tridiagonal matrix. Both steps are O(n^3) with small
// constants (a 2048 x 2048 covariance, the Inception case, takes seconds), unlike cyclic
// Jacobi, whose sweeps cost O(n^3) each. The FID needs one decomposition with vectors
// (the square root of a covariance) and one without (the eigenvalues of S1^1/2 S2 S1^1/2).
#pragma once

#include <vector>

#include "models/metrics/matrix.h"

namespace kite::metrics {

struct SymmetricEigen {
  std::vector<double> values;  // ascending
  Matrix vectors;              // row i is the unit eigenvector of values[i]; 0 x 0 if not requested
};

// Only the lower triangle of `a` (entries with column <= row) is read; the upper one is
// taken to mirror it. Throws kite::Error for a non-square matrix, a non-finite entry, or
// (never seen in practice) a QL iteration that does not converge.
SymmetricEigen symmetric_eigen(const Matrix& a, bool want_vectors = true);

// Eigenvalues only (ascending): skips the O(n^3) vector accumulation.
std::vector<double> symmetric_eigenvalues(const Matrix& a);

// V diag(sqrt(max(lambda, 0))) V^T: the symmetric square root of a positive semi-definite
// matrix, with the tiny negative eigenvalues that rounding produces clamped to zero.
Matrix psd_sqrt(const Matrix& a);

}  // namespace kite::metrics
