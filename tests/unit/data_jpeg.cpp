// JPEG reading: colour, gray and progressive fixtures against libjpeg's own decode,
// and bad files (truncated, corrupt, empty) turning into kite::Error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "data/image_file.h"
#include "data/jpeg_reader.h"
#include "tests/unit/data_test_util.h"

namespace kite::data {
namespace {

using test::fixture;
using test::throws_error_with;

// Reads the binary PPM (P6) or PGM (P5) that djpeg wrote, into planar form.
Image read_pnm(const std::string& path) {
  const std::vector<uint8_t> bytes = test::read_bytes(path);
  std::string header(bytes.begin(), bytes.begin() + std::min<size_t>(bytes.size(), 32));
  std::istringstream in(header);
  std::string magic;
  int w = 0, h = 0, max_value = 0;
  in >> magic >> w >> h >> max_value;
  const size_t start = static_cast<size_t>(in.tellg()) + 1;  // one whitespace byte
  Image image;
  image.c = magic == "P6" ? 3 : 1;
  image.h = h;
  image.w = w;
  image.pixels.resize(image.c * h * w);
  for (int64_t p = 0; p < int64_t{h} * w; ++p)
    for (int64_t ch = 0; ch < image.c; ++ch)
      image.pixels[ch * h * w + p] = bytes.at(start + p * image.c + ch);
  return image;
}

void expect_matches_reference(const std::string& name, int64_t channels) {
  SCOPED_TRACE(name);
  const Image image = read_image(fixture("jpeg/" + name + ".jpg"));
  const Image reference = read_pnm(fixture("jpeg/" + name + "_djpeg.pnm"));
  ASSERT_EQ(image.c, channels);
  ASSERT_EQ(image.h, 12);
  ASSERT_EQ(image.w, 16);
  ASSERT_EQ(reference.c, channels);
  EXPECT_EQ(image.pixels, reference.pixels);  // same library, same settings: exact
  // And the picture is the one that was encoded: quality 95 on a gentle gradient moved no
  // sample by more than 2 when these fixtures were made.
  int worst = 0;
  for (int c = 0; c < image.c; ++c)
    for (int y = 0; y < image.h; ++y)
      for (int x = 0; x < image.w; ++x)
        worst = std::max(worst, std::abs(image.at(c, y, x) - test::smooth(c, y, x)));
  EXPECT_LE(worst, 2);
}

TEST(DataJpeg, RgbWithChromaSubsampling) { expect_matches_reference("rgb", 3); }
TEST(DataJpeg, RgbProgressive) { expect_matches_reference("rgb_progressive", 3); }
TEST(DataJpeg, GrayHasOneChannel) { expect_matches_reference("gray", 1); }

TEST(DataJpeg, ChosenByContentNotName) {
  test::TempDir dir;
  const std::string path = dir.file("really_a_jpeg.png");
  test::write_bytes(path, test::read_bytes(fixture("jpeg/gray.jpg")));
  EXPECT_EQ(read_image(path).pixels, read_image(fixture("jpeg/gray.jpg")).pixels);
}

TEST(DataJpeg, Truncated) {
  test::TempDir dir;
  std::vector<uint8_t> bytes = test::read_bytes(fixture("jpeg/rgb.jpg"));
  bytes.resize(bytes.size() * 6 / 10);
  const std::string path = dir.file("cut.jpg");
  test::write_bytes(path, bytes);
  EXPECT_TRUE(throws_error_with([&] { read_image(path); }, {path, "corrupt JPEG", "truncated"}));
}

TEST(DataJpeg, TruncatedInsideHeader) {
  std::vector<uint8_t> bytes = test::read_bytes(fixture("jpeg/rgb.jpg"));
  bytes.resize(40);
  EXPECT_TRUE(throws_error_with([&] { decode_jpeg(bytes.data(), bytes.size(), "stub.jpg"); },
                                {"stub.jpg", "corrupt JPEG"}));
}

TEST(DataJpeg, MarkerInsideEntropyCodedData) {
  // An end-of-image marker in the middle of the scan: libjpeg would warn and pad with grey.
  std::vector<uint8_t> bytes = test::read_bytes(fixture("jpeg/rgb.jpg"));
  const size_t middle = bytes.size() - 60;
  bytes[middle] = 0xff;
  bytes[middle + 1] = 0xd9;
  EXPECT_TRUE(throws_error_with([&] { decode_jpeg(bytes.data(), bytes.size(), "broken.jpg"); },
                                {"broken.jpg", "corrupt JPEG"}));
}

TEST(DataJpeg, ZeroByteFile) {
  test::TempDir dir;
  const std::string path = dir.file("empty.jpg");
  test::write_bytes(path, {});
  EXPECT_TRUE(throws_error_with([&] { read_image(path); }, {path, "empty file (0 bytes)"}));
}

TEST(DataJpeg, MissingFile) {
  const std::string path = fixture("jpeg/missing.jpg");
  EXPECT_TRUE(throws_error_with([&] { read_image(path); }, {path, "no such file"}));
}

TEST(DataJpeg, DecodeJpegRejectsPngBytes) {
  const std::vector<uint8_t> bytes = test::read_bytes(fixture("png/rgb8.png"));
  EXPECT_TRUE(throws_error_with([&] { decode_jpeg(bytes.data(), bytes.size(), "x.jpg"); },
                                {"x.jpg", "not a JPEG"}));
}

}  // namespace
}  // namespace kite::data
