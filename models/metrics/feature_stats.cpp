// Streaming float64 mean and covariance; see feature_stats.h for the shifted-sums scheme.
#include "models/metrics/feature_stats.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "models/metrics/double4.h"

namespace kite::metrics {

namespace {

using simd::double4;

constexpr std::size_t kChunkRows = 128;  // shifted rows gathered before one pass over Q
constexpr std::size_t kTileRows = 4;     // Q tile: 4 rows x 8 columns = 8 double4 registers
constexpr std::size_t kTileCols = 8;
constexpr std::size_t kBlockRows = 64;   // task: 64 rows x 256 columns of Q, so the chunk's
constexpr std::size_t kBlockCols = 256;  // 256 columns (256 KiB) stay in L2 across its tiles

// The chunk of shifted rows is stored as panels of 8 columns: panel p holds, row after
// row, the 8 values y_r[8p .. 8p+7]. A tile then streams through two small contiguous
// panels. (Plain rows would be padded_ doubles apart, 16 KiB at d = 2048, and all rows of
// a column would compete for the same few L1 sets.)
constexpr std::size_t kPanelSize = kChunkRows * kTileCols;

std::size_t chunk_index(std::size_t r, std::size_t j) {
  return j / kTileCols * kPanelSize + r * kTileCols + j % kTileCols;
}

// Q[j0..j0+3][k0..k0+7] += sum_r y_r[j] y_r[k], adding the rows one after another, so every
// entry sees exactly the sequence of additions a row-by-row loop would produce.
void accumulate_tile(const double* chunk, std::size_t rows, std::size_t width, double* cross,
                     std::size_t j0, std::size_t k0) {
  const double* k_panel = chunk + k0 / kTileCols * kPanelSize;
  const double* j_panel = chunk + j0 / kTileCols * kPanelSize + j0 % kTileCols;
  double4 acc[kTileRows][2];
  for (std::size_t jj = 0; jj < kTileRows; ++jj) {
    acc[jj][0] = simd::load4(cross + (j0 + jj) * width + k0);
    acc[jj][1] = simd::load4(cross + (j0 + jj) * width + k0 + 4);
  }
  for (std::size_t r = 0; r < rows; ++r) {
    const double4 b0 = simd::load4(k_panel + r * kTileCols);
    const double4 b1 = simd::load4(k_panel + r * kTileCols + 4);
    for (std::size_t jj = 0; jj < kTileRows; ++jj) {
      const double4 a = simd::broadcast4(j_panel[r * kTileCols + jj]);
      acc[jj][0] += a * b0;
      acc[jj][1] += a * b1;
    }
  }
  for (std::size_t jj = 0; jj < kTileRows; ++jj) {
    simd::store4(cross + (j0 + jj) * width + k0, acc[jj][0]);
    simd::store4(cross + (j0 + jj) * width + k0 + 4, acc[jj][1]);
  }
}

}  // namespace

void FeatureStats::set_dim(std::size_t dim) {
  KITE_CHECK(dim > 0, "FeatureStats: feature dimension must be positive");
  dim_ = dim;
  padded_ = (dim + kTileCols - 1) / kTileCols * kTileCols;
  shift_.assign(dim_, 0.0);
  sum_.assign(padded_, 0.0);
  cross_.assign(padded_ * padded_, 0.0);
  chunk_.assign(kChunkRows * padded_, 0.0);  // pad columns stay 0, so they add nothing
}

void FeatureStats::add(const double* rows, std::size_t n, std::size_t d) { add_rows(rows, n, d); }
void FeatureStats::add(const float* rows, std::size_t n, std::size_t d) { add_rows(rows, n, d); }

template <typename T>
void FeatureStats::add_rows(const T* rows, std::size_t n, std::size_t d) {
  KITE_CHECK(dim_ == 0 || d == dim_,
             "FeatureStats::add: rows have " << d << " features, expected " << dim_);
  if (n == 0) return;
  KITE_CHECK(rows != nullptr, "FeatureStats::add: null rows pointer for " << n << " rows");
  for (std::size_t i = 0; i < n * d; ++i) {  // validate first: a rejected call changes nothing
    KITE_CHECK(std::isfinite(static_cast<double>(rows[i])),
               "FeatureStats::add: non-finite value " << rows[i] << " in row " << count() + i / d
                                                      << ", feature " << i % d);
  }
  if (dim_ == 0) set_dim(d);
  for (std::size_t r = 0; r < n; ++r) {
    const T* x = rows + r * d;
    if (count() == 0) {
      for (std::size_t j = 0; j < d; ++j) shift_[j] = static_cast<double>(x[j]);
    }
    for (std::size_t j = 0; j < d; ++j)
      chunk_[chunk_index(pending_, j)] = static_cast<double>(x[j]) - shift_[j];
    if (++pending_ == kChunkRows) flush();
  }
}

void FeatureStats::fold_pending(std::vector<double>& sum, std::vector<double>& cross) const {
  const std::size_t rows = pending_;
  if (rows == 0) return;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < dim_; ++j) sum[j] += chunk_[chunk_index(r, j)];
  // Tasks are (64-row, 256-column) blocks of Q that meet the upper triangle; each task owns
  // its entries, so the result does not depend on the thread count either.
  const std::size_t row_blocks = (padded_ + kBlockRows - 1) / kBlockRows;
  const std::size_t col_blocks = (padded_ + kBlockCols - 1) / kBlockCols;
  std::vector<std::size_t> tasks;
  for (std::size_t jb = 0; jb < row_blocks; ++jb)
    for (std::size_t kb = 0; kb < col_blocks; ++kb)
      if ((kb + 1) * kBlockCols > jb * kBlockRows) tasks.push_back(jb * col_blocks + kb);
  const bool parallel = rows * padded_ * padded_ > (std::size_t{1} << 23);
#pragma omp parallel for schedule(dynamic) if (parallel)
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    const std::size_t j_begin = tasks[t] / col_blocks * kBlockRows;
    const std::size_t k_begin = tasks[t] % col_blocks * kBlockCols;
    const std::size_t j_end = std::min(j_begin + kBlockRows, padded_);
    const std::size_t k_end = std::min(k_begin + kBlockCols, padded_);
    for (std::size_t j0 = j_begin; j0 < j_end; j0 += kTileRows)
      for (std::size_t k0 = k_begin; k0 < k_end; k0 += kTileCols)
        if (k0 + kTileCols > j0) {  // the tile holds entries with k >= j
          accumulate_tile(chunk_.data(), rows, padded_, cross.data(), j0, k0);
        }
  }
}

void FeatureStats::flush() {
  fold_pending(sum_, cross_);
  folded_ += pending_;
  pending_ = 0;
}

void FeatureStats::merge(const FeatureStats& other) {
  if (other.count() == 0) return;
  KITE_CHECK(dim_ == 0 || dim_ == other.dim_,
             "FeatureStats::merge: dimensions " << dim_ << " and " << other.dim_ << " differ");
  if (count() == 0) {
    *this = other;
    return;
  }
  flush();
  std::vector<double> other_sum = other.sum_, other_cross = other.cross_;
  other.fold_pending(other_sum, other_cross);
  // Re-express the other sums around our shift: x - K = (x - K_o) + delta, delta = K_o - K.
  std::vector<double> delta(dim_);
  for (std::size_t j = 0; j < dim_; ++j) delta[j] = other.shift_[j] - shift_[j];
  const double n_other = static_cast<double>(other.count());
  for (std::size_t j = 0; j < dim_; ++j) {
    double* q = cross_.data() + j * padded_;
    const double* q_other = other_cross.data() + j * padded_;
    for (std::size_t k = j; k < dim_; ++k) {
      q[k] += q_other[k] + other_sum[j] * delta[k] + delta[j] * other_sum[k] +
              n_other * delta[j] * delta[k];
    }
  }
  for (std::size_t j = 0; j < dim_; ++j) sum_[j] += other_sum[j] + n_other * delta[j];
  folded_ += other.count();
}

// The pending rows are folded into copies here (same additions, same order as a flush),
// so reading the statistics never changes the accumulator.
std::vector<double> FeatureStats::mean() const {
  KITE_CHECK(count() >= 1, "FeatureStats::mean: no rows were added");
  std::vector<double> sum = sum_;
  for (std::size_t r = 0; r < pending_; ++r)
    for (std::size_t j = 0; j < dim_; ++j) sum[j] += chunk_[chunk_index(r, j)];
  std::vector<double> m(dim_);
  for (std::size_t j = 0; j < dim_; ++j) m[j] = shift_[j] + sum[j] / static_cast<double>(count());
  return m;
}

Matrix FeatureStats::covariance() const {
  KITE_CHECK(
      count() >= 2,
      "FeatureStats::covariance: needs at least 2 rows (N - 1 normalisation), have " << count());
  std::vector<double> sum = sum_, cross;
  if (pending_ > 0) {  // a 32 MiB copy at d = 2048, made only when rows are pending
    cross = cross_;
    fold_pending(sum, cross);
  }
  const std::vector<double>& all_cross = pending_ > 0 ? cross : cross_;
  const double n = static_cast<double>(count());
  Matrix c(dim_, dim_);
  for (std::size_t j = 0; j < dim_; ++j) {
    const double* q = all_cross.data() + j * padded_;
    for (std::size_t k = j; k < dim_; ++k) {
      const double value = (q[k] - sum[j] * (sum[k] / n)) / (n - 1.0);
      c(j, k) = value;
      c(k, j) = value;
    }
  }
  return c;
}

}  // namespace kite::metrics
