// Mutual Information Gap (see mig.h).
#include "models/metrics/mig.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "engine/error.h"

namespace kite::metrics {
namespace {

// Labels renumbered 0 .. m-1 in order of value; returns m.
int64_t dense_labels(const std::vector<int64_t>& labels, std::vector<int64_t>& dense) {
  std::vector<int64_t> values(labels);
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  dense.resize(labels.size());
  for (size_t i = 0; i < labels.size(); ++i)
    dense[i] = std::lower_bound(values.begin(), values.end(), labels[i]) - values.begin();
  return static_cast<int64_t>(values.size());
}

}  // namespace

std::vector<int32_t> discretize_codes(const std::vector<double>& codes, int64_t n, int64_t d,
                                      int bins) {
  KITE_CHECK(bins >= 1, "discretize_codes: bins must be positive, got " << bins);
  KITE_CHECK(static_cast<int64_t>(codes.size()) == n * d,
             "discretize_codes: " << codes.size() << " values for [" << n << ", " << d << "]");
  std::vector<int32_t> out(n * d, 0);
  for (int64_t j = 0; j < d; ++j) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (int64_t i = 0; i < n; ++i) {
      const double v = codes[i * d + j];
      KITE_CHECK(std::isfinite(v), "discretize_codes: non-finite value in code dimension " << j);
      lo = std::min(lo, v), hi = std::max(hi, v);
    }
    if (!(hi > lo)) continue;  // constant: everything in bin 0
    const double scale = bins / (hi - lo);
    for (int64_t i = 0; i < n; ++i) {
      // np.digitize against the left edges: the maximum lands in the last bin.
      const int64_t b = static_cast<int64_t>(std::floor((codes[i * d + j] - lo) * scale));
      out[i * d + j] = static_cast<int32_t>(std::clamp<int64_t>(b, 0, bins - 1));
    }
  }
  return out;
}

double entropy(const std::vector<int64_t>& labels) {
  std::vector<int64_t> dense;
  const int64_t m = dense_labels(labels, dense);
  std::vector<double> counts(m, 0.0);
  for (int64_t v : dense) counts[v] += 1;
  const double n = static_cast<double>(labels.size());
  double h = 0;
  for (double c : counts)
    if (c > 0) h -= (c / n) * std::log(c / n);
  return h;
}

double mutual_information(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  KITE_CHECK(a.size() == b.size() && !a.empty(),
             "mutual_information: label vectors of sizes " << a.size() << " and " << b.size());
  std::vector<int64_t> da, db;
  const int64_t ma = dense_labels(a, da), mb = dense_labels(b, db);
  std::vector<double> joint(ma * mb, 0.0), pa(ma, 0.0), pb(mb, 0.0);
  for (size_t i = 0; i < a.size(); ++i) {
    joint[da[i] * mb + db[i]] += 1;
    pa[da[i]] += 1;
    pb[db[i]] += 1;
  }
  const double n = static_cast<double>(a.size());
  double mi = 0;
  for (int64_t x = 0; x < ma; ++x)
    for (int64_t y = 0; y < mb; ++y) {
      const double c = joint[x * mb + y];
      if (c > 0) mi += (c / n) * std::log(c * n / (pa[x] * pb[y]));
    }
  return std::max(mi, 0.0);  // rounding can leave -1e-17 for independent labels
}

MigResult mutual_information_gap(const std::vector<double>& codes, int64_t n, int64_t d,
                                 const std::vector<int64_t>& factors, int64_t f, int bins) {
  KITE_CHECK(n > 0 && d >= 2 && f >= 1,
             "mutual_information_gap: need samples, >= 2 code dimensions and >= 1 factor (got n "
                 << n << ", d " << d << ", f " << f << ")");
  KITE_CHECK(static_cast<int64_t>(factors.size()) == n * f,
             "mutual_information_gap: " << factors.size() << " factor values for [" << n << ", "
                                        << f << "]");
  const std::vector<int32_t> binned = discretize_codes(codes, n, d, bins);
  std::vector<std::vector<int64_t>> code_columns(d, std::vector<int64_t>(n));
  std::vector<std::vector<int64_t>> factor_columns(f, std::vector<int64_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) code_columns[j][i] = binned[i * d + j];
    for (int64_t k = 0; k < f; ++k) factor_columns[k][i] = factors[i * f + k];
  }
  MigResult result;
  result.information.assign(d * f, 0.0);
#pragma omp parallel for collapse(2)
  for (int64_t j = 0; j < d; ++j)
    for (int64_t k = 0; k < f; ++k)
      result.information[j * f + k] = mutual_information(code_columns[j], factor_columns[k]);
  double sum = 0;
  for (int64_t k = 0; k < f; ++k) {
    const double h = entropy(factor_columns[k]);
    result.entropies.push_back(h);
    if (!(h > 0)) {
      result.gaps.push_back(std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    double top = 0, second = 0;
    for (int64_t j = 0; j < d; ++j) {
      const double mi = result.information[j * f + k];
      if (mi > top)
        second = top, top = mi;
      else if (mi > second)
        second = mi;
    }
    result.gaps.push_back((top - second) / h);
    sum += result.gaps.back();
    ++result.factors_used;
  }
  result.mig = result.factors_used > 0 ? sum / static_cast<double>(result.factors_used) : 0.0;
  return result;
}

}  // namespace kite::metrics
