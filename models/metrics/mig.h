// Mutual Information Gap (Chen et al. 2018), computed as disentanglement_lib does:
//
//   1. discretise each code dimension into `bins` equal-width bins between its minimum and
//      maximum (np.histogram edges + np.digitize; a constant dimension falls in one bin);
//   2. mutual information I(code_j; factor_k) from the joint counts (natural log);
//   3. MIG = mean over factors of (largest I - second largest I) / H(factor_k).
//
// A code that copies every factor into its own dimension scores 1; a code independent of
// the factors scores about 0 (plus the small positive bias of plug-in MI estimates).
// Factors whose entropy is zero (constant over the sample) carry no information and are
// left out of the mean (disentanglement_lib would divide by zero).
// Counts, entropies and MI are in float64.
#pragma once

#include <cstdint>
#include <vector>

namespace kite::metrics {

struct MigResult {
  double mig = 0;                   // mean of `gaps` over the factors with positive entropy
  std::vector<double> gaps;         // per factor: (top MI - second MI) / H; NaN if H = 0
  std::vector<double> entropies;    // H(factor_k) in nats
  std::vector<double> information;  // I(code_j; factor_k), [codes * factors] row-major
  int64_t factors_used = 0;         // factors with positive entropy
};

// Bin index (0 .. bins-1) of every value of each code dimension; codes [n, d] row-major.
std::vector<int32_t> discretize_codes(const std::vector<double>& codes, int64_t n, int64_t d,
                                      int bins = 20);

// Plug-in mutual information (nats) of two discrete variables given as labels (any int).
double mutual_information(const std::vector<int64_t>& a, const std::vector<int64_t>& b);
// Plug-in entropy (nats).
double entropy(const std::vector<int64_t>& labels);

// codes [n, d] and factors [n, f], both row-major. Needs at least 2 code dimensions.
MigResult mutual_information_gap(const std::vector<double>& codes, int64_t n, int64_t d,
                                 const std::vector<int64_t>& factors, int64_t f, int bins = 20);

}  // namespace kite::metrics
