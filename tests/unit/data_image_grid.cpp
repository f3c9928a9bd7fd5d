// Image grids: layout, padding, clamping, and the PNG they are written to.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "data/image_file.h"
#include "data/image_grid.h"
#include "tests/unit/data_test_util.h"

namespace kite::data {
namespace {

TEST(DataImageGrid, LayoutAndPadding) {
  // 5 gray images of 2x3, image i filled with i / 10; 2 columns, 1 pixel of padding.
  const int64_t n = 5, h = 2, w = 3;
  std::vector<float> images(n * h * w);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < h * w; ++p) images[i * h * w + p] = 0.1f * (i + 1);
  const Image grid = make_image_grid(images.data(), n, 1, h, w, 2, 1, 1.0f);
  EXPECT_EQ(grid.c, 1);
  EXPECT_EQ(grid.h, 3 * h + 4);  // 3 rows of images, 4 padding rows
  EXPECT_EQ(grid.w, 2 * w + 3);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t top = 1 + (i / 2) * (h + 1), left = 1 + (i % 2) * (w + 1);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        EXPECT_EQ(grid.at(0, top + y, left + x), std::lround(255 * 0.1 * (i + 1))) << "image " << i;
  }
  EXPECT_EQ(grid.at(0, 0, 0), 255);  // padding
  EXPECT_EQ(grid.at(0, 3, 4), 255);  // padding between rows and columns
  EXPECT_EQ(grid.at(0, 7, 5), 255);  // the empty sixth cell
  EXPECT_EQ(grid.at(0, grid.h - 1, grid.w - 1), 255);
}

TEST(DataImageGrid, ClampsAndRounds) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> values = {-0.5f, 0.0f, 0.5f, 1.0f, 1.5f, nan};
  const Image grid = make_image_grid(values.data(), 1, 1, 1, 6, 1, 0);
  EXPECT_EQ(grid.pixels, (std::vector<uint8_t>{0, 0, 128, 255, 255, 0}));
}

TEST(DataImageGrid, RgbPlanesStayApart) {
  const std::vector<float> rgb = {1.0f, 0.0f, 0.2f};  // one pixel: R, G, B planes
  const Image grid = make_image_grid(rgb.data(), 1, 3, 1, 1, 4, 2);
  EXPECT_EQ(grid.h, 5);
  EXPECT_EQ(grid.w, 5);  // a single image uses one column, not four
  EXPECT_EQ(grid.at(0, 2, 2), 255);
  EXPECT_EQ(grid.at(1, 2, 2), 0);
  EXPECT_EQ(grid.at(2, 2, 2), 51);
}

TEST(DataImageGrid, WrittenPngReadsBack) {
  test::TempDir dir;
  std::vector<float> images(4 * 3 * 5 * 6);
  for (size_t i = 0; i < images.size(); ++i) images[i] = float(i % 17) / 16.0f;
  const std::string path = dir.file("grid.png");
  write_image_grid(path, images.data(), 4, 3, 5, 6, 3, 2);
  const Image expected = make_image_grid(images.data(), 4, 3, 5, 6, 3, 2);
  const Image read = read_image(path);
  EXPECT_EQ(read.c, 3);
  EXPECT_EQ(read.h, expected.h);
  EXPECT_EQ(read.w, expected.w);
  EXPECT_EQ(read.pixels, expected.pixels);
}

TEST(DataImageGrid, BadArguments) {
  const std::vector<float> images(2 * 4 * 4);
  EXPECT_TRUE(test::throws_error_with([&] { make_image_grid(images.data(), 1, 2, 4, 4, 1, 0); },
                                      {"2 channels"}));
  EXPECT_TRUE(test::throws_error_with([&] { make_image_grid(images.data(), 2, 1, 4, 4, 0, 0); },
                                      {"columns 0"}));
  test::TempDir dir;
  const std::string path = dir.file("missing/grid.png");
  EXPECT_TRUE(test::throws_error_with(
      [&] { write_image_grid(path, images.data(), 2, 1, 4, 4, 2, 1); }, {path, "cannot create"}));
}

}  // namespace
}  // namespace kite::data
