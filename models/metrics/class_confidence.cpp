// ClassConfidence: softmax top probabilities and predicted-class counts (see the header).
#include "models/metrics/class_confidence.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace kite::metrics {

ClassConfidence::ClassConfidence(int64_t classes)
    : classes_(classes), predicted_counts_(static_cast<size_t>(std::max<int64_t>(classes, 0))) {
  KITE_CHECK(classes >= 2, "ClassConfidence: needs at least 2 classes, got " << classes);
}

template <typename T>
void ClassConfidence::add_rows(const T* logits, int64_t rows) {
  KITE_CHECK(rows >= 0, "ClassConfidence::add: negative row count " << rows);
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = logits + r * classes_;
    int64_t best = 0;
    for (int64_t k = 1; k < classes_; ++k)
      if (row[k] > row[best]) best = k;
    // p_best = 1 / sum_k exp(l_k - l_best): the largest term is exp(0) = 1, nothing overflows.
    double sum = 0;
    for (int64_t k = 0; k < classes_; ++k)
      sum += std::exp(static_cast<double>(row[k]) - static_cast<double>(row[best]));
    KITE_CHECK(std::isfinite(sum) && std::isfinite(static_cast<double>(row[best])),
               "ClassConfidence::add: non-finite logits in row " << r);
    top_probabilities_.push_back(1.0 / sum);
    ++predicted_counts_[static_cast<size_t>(best)];
  }
}

void ClassConfidence::add(const float* logits, int64_t rows) { add_rows(logits, rows); }
void ClassConfidence::add(const double* logits, int64_t rows) { add_rows(logits, rows); }

double ClassConfidence::mean_top_probability() const {
  KITE_CHECK(count() > 0, "ClassConfidence: no images added");
  double sum = 0;
  for (double p : top_probabilities_) sum += p;
  return sum / static_cast<double>(count());
}

double ClassConfidence::fraction_below(double threshold) const {
  KITE_CHECK(count() > 0, "ClassConfidence: no images added");
  const auto below = std::count_if(top_probabilities_.begin(), top_probabilities_.end(),
                                   [threshold](double p) { return p < threshold; });
  return static_cast<double>(below) / static_cast<double>(count());
}

std::vector<double> ClassConfidence::class_frequencies() const {
  KITE_CHECK(count() > 0, "ClassConfidence: no images added");
  std::vector<double> frequencies;
  for (int64_t c : predicted_counts_)
    frequencies.push_back(static_cast<double>(c) / static_cast<double>(count()));
  return frequencies;
}

double ClassConfidence::class_total_variation(const ClassConfidence& other) const {
  KITE_CHECK(other.classes_ == classes_,
             "ClassConfidence: " << classes_ << " classes against " << other.classes_);
  const std::vector<double> a = class_frequencies(), b = other.class_frequencies();
  double sum = 0;
  for (size_t k = 0; k < a.size(); ++k) sum += std::abs(a[k] - b[k]);
  return sum / 2;
}

}  // namespace kite::metrics
