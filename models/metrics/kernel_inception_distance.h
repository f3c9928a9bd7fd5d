// Kernel Inception Distance (Binkowski et al. 2018): an unbiased MMD^2 between two feature
// samples with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3.
//
// Unlike FID, the estimator is unbiased, so it is comparable across sample sizes. As in the
// reference implementations (the authors' code, torch-fidelity), it is averaged over random
// subsets: `subsets` draws of `subset_size` rows without replacement from each sample
// (fewer rows if a sample is smaller). For one pair of subsets X, Y of m rows:
//   MMD^2 = sum_{i != j} k(x_i, x_j) / (m(m-1)) + sum_{i != j} k(y_i, y_j) / (m(m-1))
//           - 2 sum_{i, j} k(x_i, y_j) / m^2.
// The subset choice is a deterministic function of the seed (splitmix64 + Fisher-Yates),
// the same on every platform. The reported std is the population standard deviation over
// subsets (numpy's np.std, as torch-fidelity reports it).
#pragma once

#include <cstddef>
#include <cstdint>

namespace kite::metrics {

struct KidOptions {
  std::size_t subsets = 100;
  std::size_t subset_size = 1000;
  std::uint64_t seed = 0;
};

struct KidResult {
  double mean = 0.0;
  double std = 0.0;
  std::size_t subsets = 0;
  std::size_t subset_size = 0;  // the size actually used: min(subset_size, nx, ny)
};

// x: nx rows of d features, y: ny rows of d features, both row-major. Needs at least 2
// rows in each sample; throws kite::Error otherwise or on non-finite features.
KidResult kernel_inception_distance(const double* x, std::size_t nx, const double* y,
                                    std::size_t ny, std::size_t d, const KidOptions& options = {});
KidResult kernel_inception_distance(const float* x, std::size_t nx, const float* y, std::size_t ny,
                                    std::size_t d, const KidOptions& options = {});

// The unbiased MMD^2 above for one pair of samples of m rows each (all rows used).
double polynomial_mmd2_unbiased(const double* x, const double* y, std::size_t m, std::size_t d);

}  // namespace kite::metrics
