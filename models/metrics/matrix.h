// A small dense float64 matrix (row-major) and the few products the metrics need.
//
// The FID and KID code works on feature statistics (2048 x 2048 for Inception) in double
// precision, outside the tensor engine: these matrices never need autograd, devices or
// float32, and keeping them as plain std::vector<double> makes the metric math testable on
// its own. Only what the metrics use lives here: construction, element access, transpose,
// symmetrisation and one cache-blocked product, C = A * B^T.
#pragma once

#include <cstddef>
#include <vector>

namespace kite::metrics {

class Matrix {
 public:
  Matrix() = default;
  Matrix(std::size_t rows, std::size_t cols, double fill = 0.0)
      : rows_(rows), cols_(cols), values_(rows * cols, fill) {}

  static Matrix identity(std::size_t n);
  // Copies rows*cols values laid out row-major.
  static Matrix from_row_major(std::size_t rows, std::size_t cols, const double* values);

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  bool is_square() const { return rows_ == cols_; }

  double& operator()(std::size_t r, std::size_t c) { return values_[r * cols_ + c]; }
  double operator()(std::size_t r, std::size_t c) const { return values_[r * cols_ + c]; }
  double* row(std::size_t r) { return values_.data() + r * cols_; }
  const double* row(std::size_t r) const { return values_.data() + r * cols_; }
  double* data() { return values_.data(); }
  const double* data() const { return values_.data(); }
  const std::vector<double>& values() const { return values_; }

 private:
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::vector<double> values_;
};

Matrix transpose(const Matrix& a);

// (A + A^T) / 2; A must be square. Rounding makes computed "symmetric" products slightly
// asymmetric, and the eigensolver reads only one triangle, so callers symmetrise first.
Matrix symmetrize(const Matrix& a);

// C = A * B^T (A is m x k, B is n x k). The "dot product" form keeps both operands' inner
// loops contiguous in row-major storage; A * B is multiply_transposed(A, transpose(B)).
// Cache-blocked, register-tiled and threaded with OpenMP; deterministic for given shapes.
Matrix multiply_transposed(const Matrix& a, const Matrix& b);

// Same, on raw row-major arrays: c (m x n) = a (m x k) * b (n x k)^T.
void multiply_transposed(const double* a, const double* b, double* c, std::size_t m, std::size_t n,
                         std::size_t k);

// The general form on sub-blocks: C += alpha * A * B^T, where A is m x k with row stride
// lda, B is n x k with row stride ldb, and C is m x n with row stride ldc.
void multiply_transposed_add(std::size_t m, std::size_t n, std::size_t k, double alpha,
                             const double* a, std::size_t lda, const double* b, std::size_t ldb,
                             double* c, std::size_t ldc);

double trace(const Matrix& a);

// Largest |a_ij - b_ij|; shapes must match. Used by tests and sanity checks.
double max_abs_difference(const Matrix& a, const Matrix& b);

}  // namespace kite::metrics
