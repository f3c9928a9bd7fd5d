// Dense float64 matrix helpers for the metrics; see matrix.h.
#include "models/metrics/matrix.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "models/metrics/double4.h"

namespace kite::metrics {

using simd::double4;

Matrix Matrix::identity(std::size_t n) {
  Matrix m(n, n);
  for (std::size_t i = 0; i < n; ++i) m(i, i) = 1.0;
  return m;
}

Matrix Matrix::from_row_major(std::size_t rows, std::size_t cols, const double* values) {
  Matrix m(rows, cols);
  std::copy(values, values + rows * cols, m.data());
  return m;
}

Matrix transpose(const Matrix& a) {
  Matrix t(a.cols(), a.rows());
  // Blocked so that both the reads and the strided writes stay within cache.
  constexpr std::size_t kBlock = 32;
#pragma omp parallel for schedule(static) if (a.rows() * a.cols() > (1u << 16))
  for (std::size_t r0 = 0; r0 < a.rows(); r0 += kBlock) {
    for (std::size_t c0 = 0; c0 < a.cols(); c0 += kBlock) {
      const std::size_t r1 = std::min(r0 + kBlock, a.rows());
      const std::size_t c1 = std::min(c0 + kBlock, a.cols());
      for (std::size_t r = r0; r < r1; ++r)
        for (std::size_t c = c0; c < c1; ++c) t(c, r) = a(r, c);
    }
  }
  return t;
}

Matrix symmetrize(const Matrix& a) {
  KITE_CHECK(a.is_square(),
             "symmetrize: matrix must be square, got " << a.rows() << "x" << a.cols());
  Matrix s(a.rows(), a.cols());
  for (std::size_t r = 0; r < a.rows(); ++r)
    for (std::size_t c = 0; c < a.cols(); ++c) s(r, c) = 0.5 * (a(r, c) + a(c, r));
  return s;
}

double trace(const Matrix& a) {
  KITE_CHECK(a.is_square(), "trace: matrix must be square, got " << a.rows() << "x" << a.cols());
  double t = 0.0;
  for (std::size_t i = 0; i < a.rows(); ++i) t += a(i, i);
  return t;
}

double max_abs_difference(const Matrix& a, const Matrix& b) {
  KITE_CHECK(a.rows() == b.rows() && a.cols() == b.cols(),
             "max_abs_difference: shapes " << a.rows() << "x" << a.cols() << " and " << b.rows()
                                           << "x" << b.cols() << " differ");
  double worst = 0.0;
  for (std::size_t i = 0; i < a.values().size(); ++i)
    worst = std::max(worst, std::abs(a.values()[i] - b.values()[i]));
  return worst;
}

namespace {

// Register tile: ROWS rows of A against COLS rows of B over one slice of the inner
// dimension. Each of the ROWS*COLS dot products keeps four partial sums in one double4;
// 3 x 4 accumulators plus the operands fill the 16 AVX2 registers.
constexpr int kTileRows = 3;
constexpr int kTileCols = 4;

template <int ROWS, int COLS>
void tile_dot_products(const double* a, std::size_t lda, const double* b, std::size_t ldb,
                       double* c, std::size_t ldc, std::size_t depth, double alpha) {
  double4 acc[ROWS][COLS];
  for (int r = 0; r < ROWS; ++r)
    for (int j = 0; j < COLS; ++j) acc[r][j] = simd::broadcast4(0.0);
  std::size_t p = 0;
  for (; p + 4 <= depth; p += 4) {
    double4 av[ROWS];
    for (int r = 0; r < ROWS; ++r) av[r] = simd::load4(a + r * lda + p);
    for (int j = 0; j < COLS; ++j) {
      const double4 bv = simd::load4(b + j * ldb + p);
      for (int r = 0; r < ROWS; ++r) acc[r][j] += av[r] * bv;
    }
  }
  double tail[ROWS][COLS] = {};
  for (; p < depth; ++p)
    for (int r = 0; r < ROWS; ++r)
      for (int j = 0; j < COLS; ++j) tail[r][j] += a[r * lda + p] * b[j * ldb + p];
  for (int r = 0; r < ROWS; ++r)
    for (int j = 0; j < COLS; ++j)
      c[r * ldc + j] += alpha * (simd::sum_lanes(acc[r][j]) + tail[r][j]);
}

// Edge tiles (fewer rows or columns left than a full tile) use smaller instantiations.
template <int ROWS>
void tile_with_rows(int cols, const double* a, std::size_t lda, const double* b, std::size_t ldb,
                    double* c, std::size_t ldc, std::size_t depth, double alpha) {
  switch (cols) {
    case 4:
      tile_dot_products<ROWS, 4>(a, lda, b, ldb, c, ldc, depth, alpha);
      break;
    case 3:
      tile_dot_products<ROWS, 3>(a, lda, b, ldb, c, ldc, depth, alpha);
      break;
    case 2:
      tile_dot_products<ROWS, 2>(a, lda, b, ldb, c, ldc, depth, alpha);
      break;
    default:
      tile_dot_products<ROWS, 1>(a, lda, b, ldb, c, ldc, depth, alpha);
      break;
  }
}

void tile(int rows, int cols, const double* a, std::size_t lda, const double* b, std::size_t ldb,
          double* c, std::size_t ldc, std::size_t depth, double alpha) {
  switch (rows) {
    case 3:
      tile_with_rows<3>(cols, a, lda, b, ldb, c, ldc, depth, alpha);
      break;
    case 2:
      tile_with_rows<2>(cols, a, lda, b, ldb, c, ldc, depth, alpha);
      break;
    default:
      tile_with_rows<1>(cols, a, lda, b, ldb, c, ldc, depth, alpha);
      break;
  }
}

}  // namespace

void multiply_transposed_add(std::size_t m, std::size_t n, std::size_t k, double alpha,
                             const double* a, std::size_t lda, const double* b, std::size_t ldb,
                             double* c, std::size_t ldc) {
  if (m == 0 || n == 0 || k == 0) return;
  // Blocking: a slice of kDepth along k, kPanel rows of B (128 KiB: stays in L2) against
  // kRowBlock rows of A. The B slice is first copied into a contiguous buffer: B's rows
  // may be a power-of-two stride apart (16 KiB at k = 2048), which would make them collide
  // in a few cache sets. Each task owns a disjoint block of C, so tasks never race, and
  // every element sums its k-slices in the same order whatever the thread count.
  constexpr std::size_t kDepth = 256;
  constexpr std::size_t kPanel = 64;
  constexpr std::size_t kRowBlock = 192;
  const std::size_t row_blocks = (m + kRowBlock - 1) / kRowBlock;
  const std::size_t panels = (n + kPanel - 1) / kPanel;
  const std::size_t tasks = row_blocks * panels;
  const bool parallel = m * n * k > (std::size_t{1} << 22);  // ~1 ms of work: worth a fork
#pragma omp parallel for schedule(dynamic) if (parallel)
  for (std::size_t task = 0; task < tasks; ++task) {
    const std::size_t i0 = (task / panels) * kRowBlock;
    const std::size_t j0 = (task % panels) * kPanel;
    const std::size_t i1 = std::min(i0 + kRowBlock, m);
    const std::size_t j1 = std::min(j0 + kPanel, n);
    std::vector<double> packed((j1 - j0) * std::min(kDepth, k));
    for (std::size_t p0 = 0; p0 < k; p0 += kDepth) {
      const std::size_t depth = std::min(kDepth, k - p0);
      for (std::size_t j = j0; j < j1; ++j)
        std::copy(b + j * ldb + p0, b + j * ldb + p0 + depth, packed.data() + (j - j0) * depth);
      for (std::size_t i = i0; i < i1; i += kTileRows) {
        const int rows = static_cast<int>(std::min<std::size_t>(kTileRows, i1 - i));
        for (std::size_t j = j0; j < j1; j += kTileCols) {
          const int cols = static_cast<int>(std::min<std::size_t>(kTileCols, j1 - j));
          tile(rows, cols, a + i * lda + p0, lda, packed.data() + (j - j0) * depth, depth,
               c + i * ldc + j, ldc, depth, alpha);
        }
      }
    }
  }
}

void multiply_transposed(const double* a, const double* b, double* c, std::size_t m, std::size_t n,
                         std::size_t k) {
  std::fill(c, c + m * n, 0.0);
  multiply_transposed_add(m, n, k, 1.0, a, k, b, k, c, n);
}

Matrix multiply_transposed(const Matrix& a, const Matrix& b) {
  KITE_CHECK(a.cols() == b.cols(), "multiply_transposed: inner dimensions differ: A is "
                                       << a.rows() << "x" << a.cols() << ", B is " << b.rows()
                                       << "x" << b.cols() << " (computing A * B^T)");
  Matrix c(a.rows(), b.rows());
  multiply_transposed(a.data(), b.data(), c.data(), a.rows(), b.rows(), a.cols());
  return c;
}

}  // namespace kite::metrics
