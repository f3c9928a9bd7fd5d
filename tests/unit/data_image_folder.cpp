// Image folders: order, crop and resize, splits, the JPEG/PNG mix, and the ways a folder
// can be unusable (missing, empty, only other files, a bad image, mixed channels or sizes).
#include <gtest/gtest.h>

#include "data/image_file.h"
#include "data/image_folder.h"
#include "data/png_writer.h"
#include "data/resize.h"
#include "tests/unit/data_test_util.h"

namespace kite::data {
namespace {

using test::fixture;
using test::throws_error_with;

// A c x h x w image whose pixels all equal `value` except the first, which is `value + 1`.
void write_marked(const std::string& path, int64_t c, int64_t h, int64_t w, uint8_t value) {
  std::vector<uint8_t> pixels(c * h * w, value);
  pixels[0] = static_cast<uint8_t>(value + 1);
  write_png(path, c, h, w, pixels.data());
}

TEST(DataImageFolder, SortedByNameWithLabelsEmpty) {
  test::TempDir dir;
  write_marked(dir.file("b.png"), 3, 4, 5, 20);
  write_marked(dir.file("a.png"), 3, 4, 5, 10);
  write_marked(dir.file("c10.png"), 3, 4, 5, 40);
  write_marked(dir.file("c1.png"), 3, 4, 5, 30);
  const ImageSet set = load_image_folder(dir.path());
  ASSERT_EQ(set.n, 4);
  EXPECT_EQ(set.c, 3);
  EXPECT_EQ(set.h, 4);
  EXPECT_EQ(set.w, 5);
  EXPECT_TRUE(set.labels.empty());
  // a, b, c1, c10: byte-wise order
  const std::vector<int> expected = {10, 20, 30, 40};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(set.at(i, 0, 0, 0), expected[i] + 1);
    EXPECT_EQ(set.at(i, 2, 3, 4), expected[i]);
  }
}

TEST(DataImageFolder, MixesPngAndJpeg) {
  test::TempDir dir;
  test::write_bytes(dir.file("photo.JPG"), test::read_bytes(fixture("jpeg/rgb.jpg")));
  write_marked(dir.file("drawing.png"), 3, 12, 16, 99);
  const ImageSet set = load_image_folder(dir.path());
  ASSERT_EQ(set.n, 2);
  const Image jpeg = read_image(fixture("jpeg/rgb.jpg"));
  EXPECT_EQ(std::vector<uint8_t>(set.image(1), set.image(1) + set.image_bytes()), jpeg.pixels);
  EXPECT_EQ(set.at(0, 1, 5, 5), 99);
}

TEST(DataImageFolder, CropThenResize) {
  test::TempDir dir;
  // 8x12 image whose central 8x8 is 200 and whose 2-column side bands are 0.
  std::vector<uint8_t> pixels(8 * 12, 0);
  for (int y = 0; y < 8; ++y)
    for (int x = 2; x < 10; ++x) pixels[y * 12 + x] = 200;
  write_png(dir.file("wide.png"), 1, 8, 12, pixels.data());
  ImageFolderOptions options;
  options.crop = 8;
  options.resize = 4;
  const ImageSet set = load_image_folder(dir.path(), options);
  ASSERT_EQ(set.n, 1);
  EXPECT_EQ(set.h, 4);
  EXPECT_EQ(set.w, 4);
  for (uint8_t v : set.pixels) EXPECT_EQ(v, 200);  // the bands were cropped away
}

TEST(DataImageFolder, ResizeMakesMixedSizesEqual) {
  test::TempDir dir;
  write_marked(dir.file("a.png"), 1, 10, 10, 50);
  write_marked(dir.file("b.png"), 1, 20, 30, 60);
  ImageFolderOptions options;
  options.resize = 6;
  const ImageSet set = load_image_folder(dir.path(), options);
  EXPECT_EQ(set.n, 2);
  EXPECT_EQ(set.h, 6);
  EXPECT_EQ(set.w, 6);
}

TEST(DataImageFolder, TrainTestSplitByFraction) {
  test::TempDir dir;
  for (int i = 0; i < 10; ++i)
    write_marked(dir.file("img" + std::to_string(i) + ".png"), 1, 3, 3, uint8_t(10 * i));
  ImageFolderOptions options;
  options.test_fraction = 0.3;
  const ImageSet train = load_image_folder(dir.path(), options);
  options.split = Split::Test;
  const ImageSet test_set = load_image_folder(dir.path(), options);
  ASSERT_EQ(train.n, 7);
  ASSERT_EQ(test_set.n, 3);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(train.at(i, 0, 1, 1), 10 * i);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(test_set.at(i, 0, 1, 1), 10 * (7 + i));
}

TEST(DataImageFolder, GrayToRgbOption) {
  test::TempDir dir;
  write_marked(dir.file("a_gray.png"), 1, 4, 4, 70);
  write_marked(dir.file("b_rgb.png"), 3, 4, 4, 80);
  ImageFolderOptions options;
  options.gray_to_rgb = true;
  const ImageSet set = load_image_folder(dir.path(), options);
  ASSERT_EQ(set.c, 3);
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(set.at(0, c, 0, 0), 71);
    EXPECT_EQ(set.at(0, c, 3, 3), 70);
  }
  EXPECT_EQ(set.at(1, 0, 0, 0), 81);
}

TEST(DataImageFolder, NonImageFilesSkippedWithWarning) {
  test::TempDir dir;
  write_marked(dir.file("a.png"), 1, 3, 3, 5);
  test::write_bytes(dir.file("list_attr.txt"), {'h', 'i'});
  std::filesystem::create_directory(dir.file("subfolder"));
  ::testing::internal::CaptureStderr();
  const ImageSet set = load_image_folder(dir.path());
  const std::string warnings = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(set.n, 1);
  EXPECT_NE(warnings.find("skipping " + dir.file("list_attr.txt")), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("skipping " + dir.file("subfolder")), std::string::npos) << warnings;
}

// ---- bad folders

TEST(DataImageFolder, MissingFolder) {
  const std::string path = fixture("no-such-folder");
  EXPECT_TRUE(throws_error_with([&] { load_image_folder(path); }, {path, "no such folder"}));
}

TEST(DataImageFolder, FileInsteadOfFolder) {
  const std::string path = fixture("png/rgb8.png");
  EXPECT_TRUE(throws_error_with([&] { load_image_folder(path); }, {path, "expected a folder"}));
}

TEST(DataImageFolder, EmptyFolder) {
  test::TempDir dir;
  EXPECT_TRUE(
      throws_error_with([&] { load_image_folder(dir.path()); }, {dir.path(), "folder is empty"}));
}

TEST(DataImageFolder, OnlyNonImageFiles) {
  test::TempDir dir;
  test::write_bytes(dir.file("readme.txt"), {'x'});
  ::testing::internal::CaptureStderr();
  EXPECT_TRUE(throws_error_with([&] { load_image_folder(dir.path()); },
                                {dir.path(), "no PNG or JPEG images"}));
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("readme.txt"), std::string::npos);
}

TEST(DataImageFolder, ImageSmallerThanCrop) {
  test::TempDir dir;
  write_marked(dir.file("big.png"), 1, 40, 40, 1);
  write_marked(dir.file("small.png"), 1, 20, 30, 1);
  ImageFolderOptions options;
  options.crop = 32;
  EXPECT_TRUE(
      throws_error_with([&] { load_image_folder(dir.path(), options); },
                        {dir.file("small.png"), "20x30", "smaller than the 32x32 center crop"}));
}

TEST(DataImageFolder, MixedChannels) {
  test::TempDir dir;
  write_marked(dir.file("a.png"), 3, 4, 4, 1);
  write_marked(dir.file("b.png"), 1, 4, 4, 1);
  EXPECT_TRUE(throws_error_with(
      [&] { load_image_folder(dir.path()); },
      {dir.path(), "mixed channel counts", dir.file("a.png"), dir.file("b.png")}));
}

TEST(DataImageFolder, MixedSizesWithoutResize) {
  test::TempDir dir;
  write_marked(dir.file("a.png"), 1, 4, 4, 1);
  write_marked(dir.file("b.png"), 1, 4, 5, 1);
  EXPECT_TRUE(throws_error_with([&] { load_image_folder(dir.path()); },
                                {"mixed image sizes", dir.file("b.png"), "4x5"}));
}

TEST(DataImageFolder, CorruptImage) {
  test::TempDir dir;
  write_marked(dir.file("a.png"), 1, 4, 4, 1);
  std::vector<uint8_t> bytes = test::read_bytes(fixture("png/gray8.png"));
  bytes.erase(bytes.end() - 30, bytes.end());
  test::write_bytes(dir.file("b.png"), bytes);
  EXPECT_TRUE(throws_error_with([&] { load_image_folder(dir.path()); },
                                {dir.file("b.png"), "corrupt PNG"}));
}

TEST(DataImageFolder, ZeroByteImage) {
  test::TempDir dir;
  test::write_bytes(dir.file("a.jpg"), {});
  EXPECT_TRUE(throws_error_with([&] { load_image_folder(dir.path()); },
                                {dir.file("a.jpg"), "empty file (0 bytes)"}));
}

TEST(DataImageFolder, EmptyTestSplit) {
  test::TempDir dir;
  write_marked(dir.file("a.png"), 1, 4, 4, 1);
  ImageFolderOptions options;
  options.split = Split::Test;
  EXPECT_TRUE(throws_error_with([&] { load_image_folder(dir.path(), options); },
                                {dir.path(), "test split is empty"}));
}

TEST(DataImageFolder, BadTestFraction) {
  test::TempDir dir;
  ImageFolderOptions options;
  options.test_fraction = 1.0;
  EXPECT_TRUE(throws_error_with([&] { load_image_folder(dir.path(), options); },
                                {dir.path(), "test_fraction"}));
}

}  // namespace
}  // namespace kite::data
