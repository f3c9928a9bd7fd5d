// PNG reading and writing: round trips, every colour type among the fixtures, bad files.
#include <gtest/gtest.h>

#include <zlib.h>

#include "data/file_bytes.h"
#include "data/image_file.h"
#include "data/png_reader.h"
#include "data/png_writer.h"
#include "tests/unit/data_test_util.h"

namespace kite::data {
namespace {

using test::fixture;
using test::throws_error_with;

Image make_image(int64_t c, int64_t h, int64_t w) {
  Image image{c, h, w, std::vector<uint8_t>(c * h * w)};
  for (size_t i = 0; i < image.pixels.size(); ++i)
    image.pixels[i] = static_cast<uint8_t>(i * 97 + 13);
  return image;
}

void expect_round_trip(int64_t c, int64_t h, int64_t w) {
  const Image original = make_image(c, h, w);
  const std::vector<uint8_t> bytes = encode_png(c, h, w, original.pixels.data());
  const Image decoded = decode_png(bytes.data(), bytes.size(), "memory");
  EXPECT_EQ(decoded.c, c);
  EXPECT_EQ(decoded.h, h);
  EXPECT_EQ(decoded.w, w);
  EXPECT_EQ(decoded.pixels, original.pixels);
}

TEST(DataPng, RoundTripGrayInMemory) { expect_round_trip(1, 13, 7); }
TEST(DataPng, RoundTripRgbInMemory) { expect_round_trip(3, 5, 11); }

TEST(DataPng, RoundTripThroughFiles) {
  test::TempDir dir;
  for (int64_t c : {1, 3}) {
    const Image original = make_image(c, 9, 6);
    const std::string path = dir.file("round_trip_" + std::to_string(c) + ".png");
    write_png(path, c, 9, 6, original.pixels.data());
    const Image read = read_image(path);
    EXPECT_EQ(read.c, c);
    EXPECT_EQ(read.h, 9);
    EXPECT_EQ(read.w, 6);
    EXPECT_EQ(read.pixels, original.pixels);
  }
}

// Checks every pixel of a fixture against expected(c, y, x).
template <typename Expected>
void expect_fixture(const std::string& name, int64_t c, int64_t h, int64_t w, Expected expected) {
  SCOPED_TRACE(name);
  const Image image = read_image(fixture("png/" + name));
  ASSERT_EQ(image.c, c);
  ASSERT_EQ(image.h, h);
  ASSERT_EQ(image.w, w);
  for (int ch = 0; ch < c; ++ch)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        ASSERT_EQ(int{image.at(ch, y, x)}, expected(ch, y, x))
            << "at c=" << ch << " y=" << y << " x=" << x;
}

// 16-bit samples become the nearest 8-bit value: round(v / 257), as 65535 / 255 = 257.
int scaled16(int v) { return (2 * v + 257) / 514; }

TEST(DataPng, Gray8) { expect_fixture("gray8.png", 1, 5, 7, test::pattern8); }

TEST(DataPng, Gray16ScaledToNearest8Bit) {
  expect_fixture("gray16.png", 1, 5, 7,
                 [](int c, int y, int x) { return scaled16(test::pattern16(c, y, x)); });
}

TEST(DataPng, Gray1BitExpandsTo0And255) {
  expect_fixture("gray1.png", 1, 3, 11, [](int, int y, int x) { return 255 * test::bit1(y, x); });
}

TEST(DataPng, GrayAlphaDropsAlpha) { expect_fixture("gray_alpha8.png", 1, 5, 7, test::pattern8); }

TEST(DataPng, Rgb8) { expect_fixture("rgb8.png", 3, 5, 7, test::pattern8); }

TEST(DataPng, Rgb16) {
  expect_fixture("rgb16.png", 3, 5, 7,
                 [](int c, int y, int x) { return scaled16(test::pattern16(c, y, x)); });
}

TEST(DataPng, RgbaDropsAlpha) { expect_fixture("rgba8.png", 3, 5, 7, test::pattern8); }

TEST(DataPng, Rgba16DropsAlpha) {
  expect_fixture("rgba16.png", 3, 5, 7,
                 [](int c, int y, int x) { return scaled16(test::pattern16(c, y, x)); });
}

TEST(DataPng, PaletteWithTransparencyBecomesRgb) {
  expect_fixture("palette8_trns.png", 3, 5, 7, [](int c, int y, int x) {
    return test::palette_entry(test::palette_index6(y, x))[c];
  });
}

TEST(DataPng, TwoBitPaletteBecomesRgb) {
  expect_fixture("palette2.png", 3, 5, 7, [](int c, int y, int x) {
    return test::palette_entry(test::palette_index4(y, x))[c];
  });
}

TEST(DataPng, Adam7Interlaced) { expect_fixture("rgb8_interlaced.png", 3, 10, 9, test::pattern8); }

// ---- bad inputs: each message names the file and the problem.

TEST(DataPng, MissingFile) {
  const std::string path = fixture("png/does_not_exist.png");
  EXPECT_TRUE(throws_error_with([&] { read_image(path); }, {path, "no such file"}));
}

TEST(DataPng, FolderInsteadOfFile) {
  const std::string path = fixture("png");
  EXPECT_TRUE(throws_error_with([&] { read_image(path); }, {path, "is a folder"}));
}

TEST(DataPng, ZeroByteFile) {
  test::TempDir dir;
  const std::string path = dir.file("empty.png");
  test::write_bytes(path, {});
  EXPECT_TRUE(throws_error_with([&] { read_image(path); }, {path, "empty file (0 bytes)"}));
}

TEST(DataPng, TruncatedInPixelData) {
  test::TempDir dir;
  std::vector<uint8_t> bytes = test::read_bytes(fixture("png/rgb8.png"));
  bytes.resize(bytes.size() / 2);
  const std::string path = dir.file("cut.png");
  test::write_bytes(path, bytes);
  EXPECT_TRUE(throws_error_with([&] { read_image(path); }, {path, "corrupt PNG", "truncated"}));
}

TEST(DataPng, TruncatedBeforeEnd) {
  // Every pixel is there; only the IEND chunk is missing. png_read_end must notice.
  test::TempDir dir;
  std::vector<uint8_t> bytes = test::read_bytes(fixture("png/rgb8.png"));
  bytes.erase(bytes.end() - 12, bytes.end());
  const std::string path = dir.file("no_iend.png");
  test::write_bytes(path, bytes);
  EXPECT_TRUE(throws_error_with([&] { read_image(path); }, {path, "truncated"}));
}

TEST(DataPng, TruncatedInsideSignature) {
  test::TempDir dir;
  std::vector<uint8_t> bytes = test::read_bytes(fixture("png/rgb8.png"));
  bytes.resize(5);
  const std::string path = dir.file("stub.png");
  test::write_bytes(path, bytes);
  EXPECT_TRUE(throws_error_with([&] { read_image(path); }, {path, "not a PNG or JPEG"}));
}

TEST(DataPng, CrcMismatch) {
  std::vector<uint8_t> bytes = test::read_bytes(fixture("png/rgb8.png"));
  bytes[20] ^= 0x01;  // inside IHDR's width field; the CRC no longer matches
  EXPECT_TRUE(throws_error_with([&] { decode_png(bytes.data(), bytes.size(), "flipped.png"); },
                                {"flipped.png", "corrupt PNG", "CRC"}));
}

// Rewrites IHDR's width and height and fixes its CRC, so only our size check can object.
TEST(DataPng, HeaderClaimingMorePixelsThanTheFileHolds) {
  std::vector<uint8_t> bytes = test::read_bytes(fixture("png/rgb8.png"));
  const uint32_t huge = 100000;
  for (int i = 0; i < 4; ++i) {
    bytes[16 + i] = static_cast<uint8_t>(huge >> (24 - 8 * i));
    bytes[20 + i] = static_cast<uint8_t>(huge >> (24 - 8 * i));
  }
  const uint32_t crc = static_cast<uint32_t>(crc32(0, bytes.data() + 12, 17));
  for (int i = 0; i < 4; ++i) bytes[29 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  EXPECT_TRUE(throws_error_with([&] { decode_png(bytes.data(), bytes.size(), "giant.png"); },
                                {"giant.png", "100000x100000", "could hold"}));
}

TEST(DataPng, TextFileNamedPng) {
  test::TempDir dir;
  const std::string path = dir.file("notes.png");
  const std::string text = "this is not an image\n";
  test::write_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
  EXPECT_TRUE(throws_error_with([&] { read_image(path); }, {path, "not a PNG or JPEG"}));
}

TEST(DataPng, WriteRejectsTwoChannels) {
  test::TempDir dir;
  const std::string path = dir.file("two.png");
  const std::vector<uint8_t> pixels(2 * 4 * 4);
  EXPECT_TRUE(
      throws_error_with([&] { write_png(path, 2, 4, 4, pixels.data()); }, {path, "2 channels"}));
}

TEST(DataPng, WriteIntoMissingFolder) {
  test::TempDir dir;
  const std::string path = dir.file("no/such/folder/out.png");
  const std::vector<uint8_t> pixels(4 * 4);
  EXPECT_TRUE(
      throws_error_with([&] { write_png(path, 1, 4, 4, pixels.data()); }, {path, "cannot create"}));
}

TEST(DataPng, WriteLeavesNoTemporaryFile) {
  test::TempDir dir;
  const Image image = make_image(3, 4, 4);
  write_png(dir.file("a.png"), 3, 4, 4, image.pixels.data());
  EXPECT_TRUE(std::filesystem::exists(dir.file("a.png")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("a.png.tmp")));
}

}  // namespace
}  // namespace kite::data
