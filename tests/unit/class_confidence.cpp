// ClassConfidence: softmax top probabilities, the ambiguous share and class frequencies
// against values worked out by hand, and bad input rejected.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/error.h"
#include "models/metrics/class_confidence.h"

namespace kite::metrics {
namespace {

TEST(ClassConfidence, TopProbabilitiesByHand) {
  // Row 0: logits (0, log 3) -> softmax (1/4, 3/4), class 1. Row 1: equal logits -> 1/2,
  // class 0 (the first maximum). Row 2: (1000, 0) -> 1, class 0 (no overflow).
  const double logits[] = {0, std::log(3.0), 2, 2, 1000, 0};
  ClassConfidence confidence(2);
  confidence.add(logits, 3);
  EXPECT_EQ(confidence.count(), 3);
  EXPECT_NEAR(confidence.mean_top_probability(), (0.75 + 0.5 + 1.0) / 3, 1e-15);
  EXPECT_NEAR(confidence.fraction_below(0.6), 1.0 / 3, 1e-15);  // only the tie
  EXPECT_NEAR(confidence.fraction_below(0.8), 2.0 / 3, 1e-15);  // the tie and 3/4
  EXPECT_EQ(confidence.fraction_below(0.5), 0.0);               // strictly below
  const std::vector<double> frequencies = confidence.class_frequencies();
  ASSERT_EQ(frequencies.size(), 2u);
  EXPECT_NEAR(frequencies[0], 2.0 / 3, 1e-15);
  EXPECT_NEAR(frequencies[1], 1.0 / 3, 1e-15);
}

TEST(ClassConfidence, FloatRowsAddUpAcrossCalls) {
  // Three classes; logits (0, 0, log 2) -> top probability 2/4 = 1/2, class 2.
  const float a[] = {0, 0, std::log(2.0f)};
  const float b[] = {5, 0, 0, 0, 5, 0};
  ClassConfidence confidence(3);
  confidence.add(a, 1);
  confidence.add(b, 2);
  EXPECT_EQ(confidence.count(), 3);
  EXPECT_NEAR(confidence.class_frequencies()[2], 1.0 / 3, 1e-15);
  const double p5 = 1 / (1 + 2 * std::exp(-5.0));
  EXPECT_NEAR(confidence.mean_top_probability(), (0.5 + 2 * p5) / 3, 1e-7);
}

TEST(ClassConfidence, TotalVariationOfClassMixes) {
  // Set a predicts classes (0, 0, 1, 1), set b (0, 1, 1, 1): TV = |1/2 - 1/4| = 1/4.
  const double a_logits[] = {1, 0, 1, 0, 0, 1, 0, 1};
  const double b_logits[] = {1, 0, 0, 1, 0, 1, 0, 1};
  ClassConfidence a(2), b(2);
  a.add(a_logits, 4);
  b.add(b_logits, 4);
  EXPECT_NEAR(a.class_total_variation(b), 0.25, 1e-15);
  EXPECT_NEAR(b.class_total_variation(a), 0.25, 1e-15);
  EXPECT_EQ(a.class_total_variation(a), 0.0);
}

TEST(ClassConfidence, BadInputIsAnError) {
  EXPECT_THROW(ClassConfidence(1), Error);
  ClassConfidence empty(3);
  EXPECT_THROW(empty.mean_top_probability(), Error);
  EXPECT_THROW(empty.class_frequencies(), Error);
  const double nan_row[] = {NAN, NAN};
  ClassConfidence two(2);
  EXPECT_THROW(two.add(nan_row, 1), Error);
  const double nan_second[] = {0, NAN};
  EXPECT_THROW(two.add(nan_second, 1), Error);
  EXPECT_THROW(two.class_total_variation(empty), Error);  // 2 classes against 3
}

}  // namespace
}  // namespace kite::metrics
