// Synthetic shapes: factor bookkeeping, determinism of generated and sampled sets, and
// geometry (sizes grow with scale, positions follow x and y, shapes stay in the frame).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "data/shapes.h"
#include "tests/unit/data_test_util.h"

namespace kite::data {
namespace {

using Factors = ShapesDataset::Factors;

struct Moments {
  int64_t area = 0;
  double mean_x = 0, mean_y = 0;
  int64_t min_x = 1 << 30, max_x = -1, min_y = 1 << 30, max_y = -1;
};

Moments moments(const ShapesDataset& shapes, const Factors& factors) {
  const int64_t size = shapes.image_size();
  std::vector<uint8_t> pixels(size * size);
  shapes.render(factors, pixels.data());
  Moments m;
  for (int64_t y = 0; y < size; ++y)
    for (int64_t x = 0; x < size; ++x) {
      if (!pixels[y * size + x]) continue;
      ++m.area;
      m.mean_x += x + 0.5;
      m.mean_y += y + 0.5;
      m.min_x = std::min(m.min_x, x), m.max_x = std::max(m.max_x, x);
      m.min_y = std::min(m.min_y, y), m.max_y = std::max(m.max_y, y);
    }
  if (m.area) m.mean_x /= m.area, m.mean_y /= m.area;
  return m;
}

TEST(DataShapes, SplitMix64MatchesTheReference) {
  // First output of Vigna's splitmix64.c seeded with 0.
  EXPECT_EQ(splitmix64(0), 0xE220A8397B1DCDAFull);
  EXPECT_NE(hash_counter(1, 0), hash_counter(1, 1));
  EXPECT_NE(hash_counter(1, 0), hash_counter(2, 0));
}

TEST(DataShapes, FactorCountsAndIndexing) {
  const ShapesDataset shapes;
  EXPECT_EQ(shapes.num_images(), 3 * 6 * 40 * 32 * 32);
  EXPECT_EQ(ShapesDataset::factor_names(),
            (std::vector<std::string>{"shape", "scale", "orientation", "x", "y"}));
  EXPECT_EQ(shapes.factors_of(0), (Factors{0, 0, 0, 0, 0}));
  EXPECT_EQ(shapes.factors_of(1), (Factors{0, 0, 0, 0, 1}));  // y varies fastest
  EXPECT_EQ(shapes.factors_of(32), (Factors{0, 0, 0, 1, 0}));
  EXPECT_EQ(shapes.factors_of(shapes.num_images() - 1), (Factors{2, 5, 39, 31, 31}));
  for (int64_t index : {int64_t{0}, int64_t{12345}, int64_t{400000}, shapes.num_images() - 1}) {
    EXPECT_EQ(shapes.index_of(shapes.factors_of(index)), index);
  }
  EXPECT_THROW(shapes.factors_of(shapes.num_images()), kite::Error);
  EXPECT_THROW(shapes.index_of({3, 0, 0, 0, 0}), kite::Error);
}

TEST(DataShapes, GenerateIsBinaryWithFactors) {
  const ShapesDataset shapes;
  const ImageSet set = shapes.generate(100000, 50);
  ASSERT_EQ(set.n, 50);
  EXPECT_EQ(set.c, 1);
  EXPECT_EQ(set.h, 64);
  EXPECT_EQ(set.w, 64);
  ASSERT_EQ(set.factors.size(), 50u * 5);
  EXPECT_EQ(set.factor_names.size(), 5u);
  for (uint8_t v : set.pixels) ASSERT_TRUE(v == 0 || v == 255);
  for (int64_t i = 0; i < set.n; ++i) {
    const Factors expected = shapes.factors_of(100000 + i);
    for (int f = 0; f < 5; ++f) EXPECT_EQ(set.factors[i * 5 + f], expected[f]);
    int64_t lit = 0;
    for (int64_t p = 0; p < set.image_bytes(); ++p) lit += set.image(i)[p] != 0;
    EXPECT_GT(lit, 10) << "image " << i << " is (nearly) empty";
  }
}

TEST(DataShapes, DeterministicAndWindowed) {
  const ShapesDataset shapes;
  EXPECT_EQ(shapes.generate(7, 5).pixels, shapes.generate(7, 5).pixels);
  const ImageSet whole = shapes.sample(20, 1234);
  const ImageSet again = shapes.sample(20, 1234);
  EXPECT_EQ(whole.pixels, again.pixels);
  EXPECT_EQ(whole.factors, again.factors);
  // Images 5..14 of the seed's stream, generated on their own, are the same images.
  const ImageSet window = shapes.sample(10, 1234, 5);
  EXPECT_EQ(window.pixels, std::vector<uint8_t>(whole.image(5), whole.image(15)));
  EXPECT_EQ(window.factors,
            std::vector<int64_t>(whole.factors.begin() + 25, whole.factors.begin() + 75));
  EXPECT_NE(shapes.sample(20, 1235).factors, whole.factors);
}

TEST(DataShapes, SamplesCoverEveryFactorValue) {
  const ShapesDataset shapes;
  const ImageSet set = shapes.sample(2000, 99);
  for (int f = 0; f < 5; ++f) {
    std::set<int64_t> seen;
    for (int64_t i = 0; i < set.n; ++i) seen.insert(set.factors[i * 5 + f]);
    EXPECT_EQ(int64_t(seen.size()), ShapesDataset::kFactorSizes[f])
        << ShapesDataset::factor_names()[f];
  }
}

TEST(DataShapes, AreaGrowsWithTheSquareOfScale) {
  const ShapesDataset shapes;
  for (int64_t shape = 0; shape < 3; ++shape) {
    const double small = moments(shapes, {shape, 0, 0, 16, 16}).area;
    const double large = moments(shapes, {shape, 5, 0, 16, 16}).area;
    // Scale 0.5 -> 1.0 should quadruple the area; pixel edges make it inexact.
    EXPECT_NEAR(large / small, 4.0, 0.6) << "shape " << shape;
  }
}

TEST(DataShapes, PositionFollowsXAndY) {
  const ShapesDataset shapes;
  for (int64_t shape : {0, 1}) {  // symmetric shapes: centroid = centre
    const Moments left = moments(shapes, {shape, 3, 0, 0, 16});
    const Moments right = moments(shapes, {shape, 3, 0, 31, 16});
    const Moments top = moments(shapes, {shape, 3, 0, 16, 0});
    const Moments bottom = moments(shapes, {shape, 3, 0, 16, 31});
    // Centres move across 64 - 2 * margin = 64 - 2 * (0.16 * 64 * sqrt(2) + 1) pixels.
    const double travel = 64 - 2 * (0.16 * 64 * std::sqrt(2.0) + 1);
    EXPECT_NEAR(right.mean_x - left.mean_x, travel, 1.0);
    EXPECT_NEAR(bottom.mean_y - top.mean_y, travel, 1.0);  // y grows downward
    EXPECT_NEAR(left.mean_y, top.mean_x, 0.5);
  }
}

TEST(DataShapes, EllipseTurnsWithOrientation) {
  const ShapesDataset shapes;
  const Moments flat = moments(shapes, {1, 5, 0, 16, 16});
  const Moments upright = moments(shapes, {1, 5, 10, 16, 16});  // 10 of 40 steps = 90 degrees
  EXPECT_GT(flat.max_x - flat.min_x, 1.6 * (flat.max_y - flat.min_y));
  EXPECT_GT(upright.max_y - upright.min_y, 1.6 * (upright.max_x - upright.min_x));
}

TEST(DataShapes, HeartPointsDownAtOrientationZero) {
  const ShapesDataset shapes;
  std::vector<uint8_t> pixels(64 * 64);
  shapes.render({2, 5, 0, 16, 16}, pixels.data());
  const Moments m = moments(shapes, {2, 5, 0, 16, 16});
  const int64_t mid = (m.min_y + m.max_y) / 2;
  int64_t upper = 0, lower = 0;
  for (int64_t y = m.min_y; y <= m.max_y; ++y)
    for (int64_t x = 0; x < 64; ++x) (y < mid ? upper : lower) += pixels[y * 64 + x] != 0;
  EXPECT_GT(upper, lower);  // the lobes are on top, the point below
}

TEST(DataShapes, ShapesDiffer) {
  const ShapesDataset shapes;
  std::vector<uint8_t> a(64 * 64), b(64 * 64), c(64 * 64);
  shapes.render({0, 4, 3, 10, 20}, a.data());
  shapes.render({1, 4, 3, 10, 20}, b.data());
  shapes.render({2, 4, 3, 10, 20}, c.data());
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);
  EXPECT_NE(a, c);
}

TEST(DataShapes, StaysInsideTheFrame) {
  for (int64_t size : {64, 32}) {
    const ShapesDataset shapes(size);
    for (int64_t shape = 0; shape < 3; ++shape)
      for (int64_t orientation = 0; orientation < 40; ++orientation)
        for (int64_t x : {0, 31})
          for (int64_t y : {0, 31}) {
            const Moments m = moments(shapes, {shape, 5, orientation, x, y});
            ASSERT_GT(m.min_x, 0);
            ASSERT_GT(m.min_y, 0);
            ASSERT_LT(m.max_x, size - 1);
            ASSERT_LT(m.max_y, size - 1);
          }
  }
}

TEST(DataShapes, ConfigurableSize) {
  const ShapesDataset shapes(32);
  const ImageSet set = shapes.generate(0, 3);
  EXPECT_EQ(set.h, 32);
  EXPECT_EQ(set.w, 32);
  EXPECT_EQ(set.pixels.size(), 3u * 32 * 32);
}

TEST(DataShapes, BadArguments) {
  EXPECT_TRUE(
      test::throws_error_with([] { ShapesDataset shapes(4); }, {"ShapesDataset", "below 8"}));
  const ShapesDataset shapes;
  EXPECT_TRUE(
      test::throws_error_with([&] { shapes.generate(shapes.num_images() - 1, 2); }, {"outside"}));
  EXPECT_TRUE(test::throws_error_with([&] { shapes.sample(0, 1); }, {"must be positive"}));
}

}  // namespace
}  // namespace kite::data
