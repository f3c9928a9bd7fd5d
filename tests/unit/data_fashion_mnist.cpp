// The real Fashion-MNIST from Debian's dataset-fashion-mnist package, when installed:
// sizes, labels, class balance and the published mean pixel value.
#include <gtest/gtest.h>

#include <filesystem>

#include "data/idx.h"

namespace kite::data {
namespace {

bool have_fashion_mnist() {
  std::error_code ec;
  return std::filesystem::is_directory(kFashionMnistDir, ec);
}

void expect_split(const ImageSet& set, int64_t n) {
  ASSERT_EQ(set.n, n);
  EXPECT_EQ(set.c, 1);
  EXPECT_EQ(set.h, 28);
  EXPECT_EQ(set.w, 28);
  ASSERT_EQ(set.pixels.size(), size_t(n * 28 * 28));
  ASSERT_EQ(set.labels.size(), size_t(n));
  std::vector<int64_t> per_class(10, 0);
  for (int64_t label : set.labels) {
    ASSERT_GE(label, 0);
    ASSERT_LE(label, 9);
    ++per_class[label];
  }
  for (int64_t count : per_class) EXPECT_EQ(count, n / 10);  // the splits are balanced
}

TEST(DataFashionMnist, TrainSplit) {
  if (!have_fashion_mnist())
    GTEST_SKIP() << kFashionMnistDir << " is missing (apt-get install dataset-fashion-mnist)";
  const ImageSet train = load_fashion_mnist(Split::Train);
  expect_split(train, 60000);
  // The usual normalisation constant: the training pixels average 0.2860 of full scale.
  double sum = 0;
  for (uint8_t v : train.pixels) sum += v;
  EXPECT_NEAR(sum / train.pixels.size() / 255.0, 0.2860, 0.0001);
}

TEST(DataFashionMnist, TestSplit) {
  if (!have_fashion_mnist())
    GTEST_SKIP() << kFashionMnistDir << " is missing (apt-get install dataset-fashion-mnist)";
  expect_split(load_fashion_mnist(Split::Test), 10000);
  EXPECT_EQ(fashion_mnist_class_names().at(9), "Ankle boot");
}

}  // namespace
}  // namespace kite::data
