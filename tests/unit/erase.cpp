// Random erasing: boxes fit their images and respect the area and aspect ranges, sampling is
// reproducible from the generator state, the erase probability holds, erasing touches exactly
// the box in every channel, and bad arguments are rejected.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/generator.h"
#include "ops/erase.h"
#include "ops/factory.h"

namespace kite {
namespace {

template <class Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected kite::Error mentioning " << fragments[0];
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& f : fragments)
      EXPECT_NE(message.find(f), std::string::npos)
          << "message '" << message << "' lacks '" << f << "'";
  }
}

TEST(RandomErasing, BoxesFitAndRespectTheRanges) {
  Generator gen(1);
  const RandomErasingOptions o{.probability = 1.0};
  const int64_t h = 28, w = 28;
  const std::vector<EraseBox> boxes = sample_erase_boxes(500, h, w, o, gen);
  int erased = 0;
  for (const EraseBox& b : boxes) {
    if (b.height == 0) continue;
    ++erased;
    EXPECT_TRUE(b.top >= 0 && b.left >= 0 && b.top + b.height <= h && b.left + b.width <= w);
    EXPECT_LT(b.height, h);
    EXPECT_LT(b.width, w);
    // Rounding h and w to integers moves the area and aspect by at most half a pixel each.
    const double area = double(b.height * b.width) / double(h * w);
    const double rounding = (b.height + b.width + 0.25) / double(h * w);
    EXPECT_GE(area, o.min_area - rounding);
    EXPECT_LE(area, o.max_area + rounding);
    const double aspect = double(b.height) / double(b.width);
    EXPECT_GE(aspect, o.min_aspect * (b.height - 0.5) / (b.height + 0.5) * (b.width - 0.5) /
                          (b.width + 0.5));
    EXPECT_LE(aspect, o.max_aspect * (b.height + 0.5) / (b.height - 0.5) * (b.width + 0.5) /
                          (b.width - 0.5));
  }
  // With these ranges almost every attempt fits a 28x28 image; 10 attempts nearly always succeed.
  EXPECT_GT(erased, 490);
}

TEST(RandomErasing, ReproducibleFromTheGeneratorState) {
  Generator a(7), b(7);
  const std::vector<EraseBox> first = sample_erase_boxes(50, 32, 20, {}, a);
  EXPECT_EQ(first, sample_erase_boxes(50, 32, 20, {}, b));
  EXPECT_NE(first, sample_erase_boxes(50, 32, 20, {}, a));  // the stream moved on
}

TEST(RandomErasing, ProbabilityHolds) {
  Generator gen(3);
  // Boxes that always fit (a quarter of the image, square), so only the coin decides.
  const RandomErasingOptions o{
      .probability = 0.3, .min_area = 0.25, .max_area = 0.25, .min_aspect = 1, .max_aspect = 1};
  const int n = 4000;
  int erased = 0;
  for (const EraseBox& b : sample_erase_boxes(n, 28, 28, o, gen)) {
    if (b.height == 0) continue;
    ++erased;
    EXPECT_EQ(b.height, 14);
    EXPECT_EQ(b.width, 14);
  }
  const double sigma = std::sqrt(n * 0.3 * 0.7);
  EXPECT_NEAR(erased, n * 0.3, 4 * sigma);
  Generator gen2(4);
  for (const EraseBox& b : sample_erase_boxes(100, 28, 28, {.probability = 0.0}, gen2))
    EXPECT_EQ(b.height, 0);
}

TEST(RandomErasing, EraseBoxesSetsExactlyTheBoxInEveryChannel) {
  const Tensor images = ones({2, 3, 4, 5});
  const Tensor out = erase_boxes(images, {{1, 2, 2, 3}, {0, 0, 0, 0}}, -0.5);
  EXPECT_EQ(out.shape(), images.shape());
  const std::vector<double> v = to_double_vector(out);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 4; ++y)
        for (int64_t x = 0; x < 5; ++x) {
          const bool inside = n == 0 && y >= 1 && y < 3 && x >= 2 && x < 5;
          EXPECT_EQ(v[((n * 3 + c) * 4 + y) * 5 + x], inside ? -0.5 : 1.0) << n << c << y << x;
        }
  EXPECT_EQ(to_double_vector(images), std::vector<double>(120, 1.0));  // the input is not modified
}

TEST(RandomErasing, RandomEraseOnOneImage) {
  Generator gen(9);
  const Tensor out = random_erase(ones({1, 10, 10}), {.probability = 1.0, .value = 0.0}, &gen);
  const std::vector<double> v = to_double_vector(out);
  int zeros_count = 0;
  for (double x : v) zeros_count += x == 0.0;
  EXPECT_GT(zeros_count, 0);
  EXPECT_LT(zeros_count, 100);
}

TEST(RandomErasing, Errors) {
  Generator gen(1);
  expect_error([&] { sample_erase_boxes(2, 8, 8, {.probability = 1.5}, gen); },
               {"random_erase", "probability"});
  expect_error([&] { sample_erase_boxes(2, 8, 8, {.min_area = 0.5, .max_area = 0.2}, gen); },
               {"random_erase", "area range"});
  expect_error(
      [&] {
        erase_boxes(ones({2, 1, 4, 4}), {{0, 0, 1, 1}}, 0.0);
      },
      {"erase_boxes", "1 boxes for 2 images"});
  expect_error(
      [&] {
        erase_boxes(ones({1, 1, 4, 4}), {{3, 0, 2, 1}}, 0.0);
      },
      {"erase_boxes", "does not fit"});
  expect_error([&] { random_erase(ones({4, 4})); }, {"random_erase", "[C, H, W]"});
}

}  // namespace
}  // namespace kite
