// MIG: perfect codes score 1, noise scores about 0, mixed codes lie in between, and the
// pieces (discretisation, entropy, mutual information) against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/error.h"
#include "models/metrics/mig.h"

namespace kite::metrics {
namespace {

// Every combination of factors of sizes (3, 6, 10), each repeated `repeat` times: the
// factors are exactly independent in the sample.
std::vector<int64_t> factor_grid(int64_t repeat, int64_t& n) {
  std::vector<int64_t> out;
  for (int64_t r = 0; r < repeat; ++r)
    for (int64_t a = 0; a < 3; ++a)
      for (int64_t b = 0; b < 6; ++b)
        for (int64_t c = 0; c < 10; ++c) out.insert(out.end(), {a, b, c});
  n = static_cast<int64_t>(out.size() / 3);
  return out;
}

TEST(Mig, DiscretizeMatchesNumpyDigitizeOfHistogramEdges) {
  // np.digitize(x, np.histogram(x, 4)[1][:-1]) - 1 for x = [0, 1, 2, 3, 4, 2.5]: edges 0, 1,
  // 2, 3, 4 -> bins 0, 1, 2, 3, 3 (maximum in the last bin), 2.
  std::vector<double> x = {0, 1, 2, 3, 4, 2.5};
  std::vector<int32_t> bins = discretize_codes(x, 6, 1, 4);
  EXPECT_EQ(bins, (std::vector<int32_t>{0, 1, 2, 3, 3, 2}));
  // A constant dimension: one bin.
  std::vector<int32_t> constant = discretize_codes({5, 5, 5}, 3, 1, 20);
  EXPECT_EQ(constant, (std::vector<int32_t>{0, 0, 0}));
}

TEST(Mig, EntropyAndInformationByHand) {
  // Uniform over 4 values: log 4. A copy has MI = H; an independent pair has MI = 0.
  std::vector<int64_t> a = {0, 1, 2, 3, 0, 1, 2, 3};
  std::vector<int64_t> b = {7, 7, 7, 7, 9, 9, 9, 9};
  EXPECT_NEAR(entropy(a), std::log(4.0), 1e-15);
  EXPECT_NEAR(mutual_information(a, a), std::log(4.0), 1e-15);
  EXPECT_NEAR(mutual_information(a, b), 0.0, 1e-15);
  // c = (a >= 2) is a function of a: MI(a, c) = H(c) = log 2.
  std::vector<int64_t> c = {0, 0, 1, 1, 0, 0, 1, 1};
  EXPECT_NEAR(mutual_information(a, c), std::log(2.0), 1e-15);
}

TEST(Mig, CodeEqualToTheFactorsScoresOne) {
  int64_t n = 0;
  std::vector<int64_t> factors = factor_grid(5, n);
  // Code dimension j = factor j, plus a constant nuisance dimension; permuted, scaled and
  // shifted, which must not matter. (A nonlinear monotone map could: equal-width bins may
  // then merge neighbouring values.)
  std::vector<double> codes(n * 4);
  for (int64_t i = 0; i < n; ++i) {
    codes[i * 4 + 0] = 7.0;
    codes[i * 4 + 1] = 0.3 * static_cast<double>(factors[i * 3 + 2]) - 5.0;
    codes[i * 4 + 2] = -2.0 * static_cast<double>(factors[i * 3 + 0]);
    codes[i * 4 + 3] = 0.1 * static_cast<double>(factors[i * 3 + 1]) + 3;
  }
  MigResult r = mutual_information_gap(codes, n, 4, factors, 3);
  EXPECT_NEAR(r.mig, 1.0, 1e-12);
  ASSERT_EQ(r.gaps.size(), 3u);
  for (double gap : r.gaps) EXPECT_NEAR(gap, 1.0, 1e-12);
  EXPECT_NEAR(r.entropies[2], std::log(10.0), 1e-12);
}

TEST(Mig, NoiseScoresNearZero) {
  int64_t n = 0;
  std::vector<int64_t> factors = factor_grid(60, n);  // 10800 samples
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  std::vector<double> codes(n * 5);
  for (double& v : codes) v = normal(rng);
  MigResult r = mutual_information_gap(codes, n, 5, factors, 3);
  EXPECT_GE(r.mig, 0.0);
  EXPECT_LT(r.mig, 0.01);
}

TEST(Mig, OneDimensionEncodingTwoFactorsHasNoGapForThem) {
  int64_t n = 0;
  std::vector<int64_t> factors = factor_grid(5, n);
  // Both dimensions hold the same mix of factors 0 and 1: their MI with each factor ties, so
  // the gap of those factors is 0; factor 2 is in neither (gap 0 as well).
  std::vector<double> codes(n * 2);
  for (int64_t i = 0; i < n; ++i) {
    const double mix = static_cast<double>(factors[i * 3 + 0] * 6 + factors[i * 3 + 1]);
    codes[i * 2 + 0] = mix;
    codes[i * 2 + 1] = 2 * mix;
  }
  MigResult r = mutual_information_gap(codes, n, 2, factors, 3);
  EXPECT_NEAR(r.mig, 0.0, 1e-12);
  EXPECT_GT(r.information[0 * 3 + 0], 0.5);  // the information is there, just not separated
}

TEST(Mig, ConstantFactorIsLeftOut) {
  const int64_t n = 100;
  std::vector<int64_t> factors(n * 2);
  std::vector<double> codes(n * 2);
  for (int64_t i = 0; i < n; ++i) {
    factors[i * 2 + 0] = i % 2;
    factors[i * 2 + 1] = 4;  // constant
    codes[i * 2 + 0] = static_cast<double>(i % 2);
    codes[i * 2 + 1] = 0.0;
  }
  MigResult r = mutual_information_gap(codes, n, 2, factors, 2);
  EXPECT_EQ(r.factors_used, 1);
  EXPECT_TRUE(std::isnan(r.gaps[1]));
  EXPECT_NEAR(r.mig, 1.0, 1e-12);
}

TEST(Mig, RejectsBadShapes) {
  EXPECT_THROW(mutual_information_gap({1, 2, 3}, 3, 1, {0, 1, 2}, 1), Error);
  EXPECT_THROW(mutual_information_gap({1, 2, 3, 4}, 2, 2, {0, 1, 2}, 1), Error);
}

}  // namespace
}  // namespace kite::metrics
