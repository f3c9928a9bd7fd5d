// Streaming mean and covariance of feature vectors (the "statistics" of FID), in float64.
//
// Features arrive in batches of any size (Inception activations per image batch, or rows
// read from a file). FeatureStats keeps, relative to a shift K (the first row ever seen):
//   n,   s = sum (x - K),   Q = sum (x - K)(x - K)^T   (float64),
// and reports mean = K + s/n and covariance = (Q - s s^T / n) / (n - 1).
// Why the shift: features with a large common offset (+1e4 on unit-variance data) make the
// textbook sum-of-squares formula cancel catastrophically (1e8 - 1e8); after subtracting a
// data point, the sums are of the order of the spread and the subtraction is harmless.
// Why a single row as the shift (not the first batch's mean): it does not depend on how the
// stream is cut into batches. Together with an accumulation that adds rows to every sum in
// arrival order, the results are bitwise identical for any batch sizes.
#pragma once

#include <cstddef>
#include <vector>

#include "models/metrics/matrix.h"

namespace kite::metrics {

// Mean and covariance of a feature distribution: what FID compares and .npz files store.
struct GaussianStatistics {
  std::vector<double> mean;  // d
  Matrix covariance;         // d x d, symmetric
};

class FeatureStats {
 public:
  FeatureStats() = default;
  explicit FeatureStats(std::size_t dim) { set_dim(dim); }

  // `rows` holds n feature vectors of length d, row-major. The first call fixes d (unless
  // the constructor did); later calls must match. Rows are buffered and folded into the
  // sums 128 at a time, so adding one row per call is cheap too. A non-finite value
  // rejects the whole call (kite::Error) and leaves the accumulator unchanged.
  void add(const double* rows, std::size_t n, std::size_t d);
  void add(const float* rows, std::size_t n, std::size_t d);

  // Adds another accumulator's rows (e.g. from another process or a parallel worker).
  void merge(const FeatureStats& other);

  std::size_t count() const { return folded_ + pending_; }
  std::size_t dim() const { return dim_; }
  std::vector<double> mean() const;  // needs count() >= 1
  Matrix covariance() const;         // unbiased (N - 1); needs count() >= 2
  GaussianStatistics statistics() const { return {mean(), covariance()}; }

 private:
  void set_dim(std::size_t dim);
  template <typename T>
  void add_rows(const T* rows, std::size_t n, std::size_t d);
  // Adds the pending rows of chunk_ to `sum` and `cross` (our own or copies of them).
  void fold_pending(std::vector<double>& sum, std::vector<double>& cross) const;
  void flush();  // folds the pending rows into sum_ and cross_

  std::size_t dim_ = 0;
  std::size_t padded_ = 0;     // dim_ rounded up to the 8-column tile width; pad columns stay 0
  std::size_t folded_ = 0;     // rows already in sum_ and cross_
  std::size_t pending_ = 0;    // rows waiting in chunk_
  std::vector<double> shift_;  // K, the first row seen
  std::vector<double> sum_;    // s (padded_)
  std::vector<double> cross_;  // Q (padded_ x padded_); only the upper triangle is maintained
  std::vector<double> chunk_;  // up to 128 shifted rows not yet folded, in 8-column panels
};

}  // namespace kite::metrics
