// Crop, resize (area averaging when shrinking, bilinear when growing) and gray to RGB,
// checked against values worked out by hand.
#include <gtest/gtest.h>

#include "data/resize.h"
#include "tests/unit/data_test_util.h"

namespace kite::data {
namespace {

Image gray(int64_t h, int64_t w, std::vector<uint8_t> pixels) {
  return Image{1, h, w, std::move(pixels)};
}

TEST(DataResize, HalvingAveragesBlocks) {
  const Image in = gray(4, 4,
                        {0, 10, 20, 30,   //
                         40, 50, 60, 70,  //
                         1, 2, 3, 4,      //
                         5, 6, 7, 9});
  const Image out = resize_image(in, 2, 2);
  // (0+10+40+50)/4 = 25, (20+30+60+70)/4 = 45, (1+2+5+6)/4 = 3.5 -> 4, (3+4+7+9)/4 = 5.75 -> 6
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{25, 45, 4, 6}));
}

TEST(DataResize, NonIntegerShrinkCountsPartialPixels) {
  // 3 -> 2: output 0 covers pixel 0 and half of pixel 1, output 1 the other half and pixel 2.
  const Image out = resize_image(gray(1, 3, {30, 90, 210}), 1, 2);
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{50, 170}));  // (30+45)/1.5, (45+210)/1.5
}

TEST(DataResize, GrowingInterpolatesBetweenCentres) {
  // Output centres at input coordinates -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
  const Image out = resize_image(gray(1, 2, {0, 100}), 1, 4);
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{0, 25, 75, 100}));
}

TEST(DataResize, ShrinkOneAxisGrowTheOther) {
  const Image out = resize_image(gray(2, 2, {0, 100, 50, 150}), 4, 1);
  // Along x: area mean of each row (50, 100); along y: bilinear 50, 62.5, 87.5, 100.
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{50, 63, 88, 100}));
}

TEST(DataResize, SameSizeIsIdentity) {
  const Image in = gray(2, 3, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(resize_image(in, 2, 3).pixels, in.pixels);
}

TEST(DataResize, ConstantImageStaysConstant) {
  // Weights of every output pixel sum to one, whatever the ratio.
  Image in{3, 37, 23, std::vector<uint8_t>(3 * 37 * 23, 201)};
  for (auto [h, w] : {std::pair{64, 64}, std::pair{5, 7}, std::pair{36, 24}, std::pair{11, 50}}) {
    const Image out = resize_image(in, h, w);
    ASSERT_EQ(out.pixels.size(), size_t(3 * h * w));
    for (uint8_t v : out.pixels) ASSERT_EQ(v, 201) << h << "x" << w;
  }
}

TEST(DataResize, ChannelsResizedIndependently) {
  Image in{3, 2, 2, {0, 0, 0, 0, 100, 100, 100, 100, 10, 20, 30, 40}};
  const Image out = resize_image(in, 1, 1);
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{0, 100, 25}));
}

TEST(DataResize, CenterCropTakesTheMiddle) {
  std::vector<uint8_t> pixels(5 * 6);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i);
  const Image out = center_crop(gray(5, 6, pixels), 3, 3, "img");
  // Rows 1..3, columns 1..3 (odd margins round toward the top-left).
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{7, 8, 9, 13, 14, 15, 19, 20, 21}));
}

TEST(DataResize, CropLargerThanImage) {
  EXPECT_TRUE(test::throws_error_with(
      [] { center_crop(gray(4, 8, std::vector<uint8_t>(32)), 5, 5, "small.png"); },
      {"small.png", "4x8", "smaller than the 5x5 center crop"}));
}

TEST(DataResize, GrayToRgbReplicates) {
  const Image out = gray_to_rgb(gray(1, 2, {7, 9}));
  EXPECT_EQ(out.c, 3);
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{7, 9, 7, 9, 7, 9}));
}

}  // namespace
}  // namespace kite::data
