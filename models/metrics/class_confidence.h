// How confidently a classifier recognises generated images: a diagnostic next to FID.
//
// FID says how far the sample distribution is from the data, not why. Two causes look alike
// in it: blends (a code between two classes' clusters decodes to half a shirt, half a
// sneaker) and missing or over-produced classes. The classifier behind FID-FMNIST tells them
// apart: a blend gets a flat softmax (its top probability is low), a class imbalance shows in
// the histogram of predicted classes. Computed on the test images too, the same numbers give
// the reference a perfect generator would match.
//
//   metrics::ClassConfidence confidence(10);
//   confidence.add(logits, rows);              // float or double logits [rows, classes]
//   confidence.mean_top_probability();          // E[max_k softmax_k]
//   confidence.fraction_below(0.5);             // share of images whose top probability < 0.5
//   confidence.class_frequencies();             // share of images predicted as each class
//
// Softmax in float64 with the maximum subtracted (logits of any size are safe).
#pragma once

#include <cstdint>
#include <vector>

namespace kite::metrics {

class ClassConfidence {
 public:
  explicit ClassConfidence(int64_t classes);

  void add(const float* logits, int64_t rows);
  void add(const double* logits, int64_t rows);

  int64_t count() const { return static_cast<int64_t>(top_probabilities_.size()); }
  int64_t classes() const { return classes_; }
  double mean_top_probability() const;
  // Share of images whose top class probability is below `threshold`.
  double fraction_below(double threshold) const;
  std::vector<double> class_frequencies() const;
  // Total variation distance between this set's predicted-class frequencies and another's:
  // half the sum of absolute differences, 0 (same mix of classes) to 1 (disjoint).
  double class_total_variation(const ClassConfidence& other) const;

 private:
  template <typename T>
  void add_rows(const T* logits, int64_t rows);

  int64_t classes_;
  std::vector<double> top_probabilities_;
  std::vector<int64_t> predicted_counts_;
};

}  // namespace kite::metrics
