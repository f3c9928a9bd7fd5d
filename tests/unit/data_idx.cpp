// IDX (MNIST-format) reading, plain and gzipped, and every way such a file can be wrong.
#include <gtest/gtest.h>

#include <zlib.h>

#include "data/gzip.h"
#include "data/idx.h"
#include "tests/unit/data_test_util.h"

namespace kite::data {
namespace {

using test::fixture;
using test::throws_error_with;

// One gzip member holding `bytes` (zlib's deflate with the gzip wrapper).
std::vector<uint8_t> gzip_member(const std::vector<uint8_t>& bytes) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::vector<uint8_t> out(deflateBound(&stream, bytes.size()) + 32);
  stream.next_in = const_cast<Bytef*>(bytes.data());
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

void expect_tiny_images(const ImageSet& set, int first, int count) {
  ASSERT_EQ(set.n, count);
  ASSERT_EQ(set.c, 1);
  ASSERT_EQ(set.h, 4);
  ASSERT_EQ(set.w, 3);
  ASSERT_EQ(set.pixels.size(), size_t(count * 12));
  ASSERT_EQ(set.labels.size(), size_t(count));
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(set.labels[i], test::idx_label(first + i));
    for (int r = 0; r < 4; ++r)
      for (int col = 0; col < 3; ++col)
        EXPECT_EQ(set.at(i, 0, r, col), test::idx_pixel(first + i, r, col));
  }
}

std::vector<uint8_t> tiny_images() {
  return test::read_bytes(fixture("idx/tiny-images-idx3-ubyte"));
}

// Writes bytes into a temporary file and returns read_idx's images, for error tests.
struct BadIdx {
  test::TempDir dir;
  std::string path;
  BadIdx(const std::string& name, const std::vector<uint8_t>& bytes) : path(dir.file(name)) {
    test::write_bytes(path, bytes);
  }
};

TEST(DataIdx, PlainFiles) {
  expect_tiny_images(
      read_idx(fixture("idx/tiny-images-idx3-ubyte"), fixture("idx/tiny-labels-idx1-ubyte")), 0, 5);
}

TEST(DataIdx, GzippedFiles) {
  expect_tiny_images(
      read_idx(fixture("idx/tiny-images-idx3-ubyte.gz"), fixture("idx/tiny-labels-idx1-ubyte.gz")),
      0, 5);
}

TEST(DataIdx, ImagesWithoutLabels) {
  const ImageSet set = read_idx(fixture("idx/tiny-images-idx3-ubyte"), "");
  EXPECT_EQ(set.n, 5);
  EXPECT_TRUE(set.labels.empty());
}

TEST(DataIdx, LoadMnistFindsBothNamingStyles) {
  // The fixture folder has gzipped train files and plain, dot-named test files.
  expect_tiny_images(load_mnist(fixture("mnist"), Split::Train), 0, 5);
  expect_tiny_images(load_mnist(fixture("mnist"), Split::Test), 5, 3);
}

TEST(DataIdx, ConcatenatedGzipMembers) {
  const std::vector<uint8_t> raw = tiny_images();
  std::vector<uint8_t> joined = gzip_member({raw.begin(), raw.begin() + 10});
  const std::vector<uint8_t> second = gzip_member({raw.begin() + 10, raw.end()});
  joined.insert(joined.end(), second.begin(), second.end());
  EXPECT_EQ(gunzip(joined.data(), joined.size(), "two.gz"), raw);
}

// ---- bad inputs

TEST(DataIdx, MissingFile) {
  const std::string path = fixture("idx/nothing-here-idx3-ubyte");
  EXPECT_TRUE(throws_error_with([&] { read_idx(path, ""); }, {path, "no such file"}));
}

TEST(DataIdx, ZeroByteFile) {
  BadIdx bad("empty-idx3-ubyte", {});
  EXPECT_TRUE(
      throws_error_with([&] { read_idx(bad.path, ""); }, {bad.path, "empty file (0 bytes)"}));
}

TEST(DataIdx, ZeroByteGzFile) {
  BadIdx bad("empty-idx3-ubyte.gz", {});
  EXPECT_TRUE(
      throws_error_with([&] { read_idx(bad.path, ""); }, {bad.path, "empty file (0 bytes)"}));
}

TEST(DataIdx, WrongMagic) {
  std::vector<uint8_t> bytes = tiny_images();
  bytes[0] = 0x12;
  BadIdx bad("magic-idx3-ubyte", bytes);
  EXPECT_TRUE(throws_error_with([&] { read_idx(bad.path, ""); },
                                {bad.path, "wrong IDX magic 0x12000803", "expected 0x00000803"}));
}

TEST(DataIdx, WrongElementType) {
  std::vector<uint8_t> bytes = tiny_images();
  bytes[2] = 0x0D;
  BadIdx bad("float-idx3-ubyte", bytes);
  EXPECT_TRUE(
      throws_error_with([&] { read_idx(bad.path, ""); }, {bad.path, "wrong IDX magic", "float32"}));
}

TEST(DataIdx, WrongDimensionCount) {
  std::vector<uint8_t> bytes = tiny_images();
  bytes[3] = 4;
  BadIdx bad("dims-idx3-ubyte", bytes);
  EXPECT_TRUE(
      throws_error_with([&] { read_idx(bad.path, ""); }, {bad.path, "4 dimensions, expected 3"}));
}

TEST(DataIdx, LabelFileGivenAsImages) {
  const std::string path = fixture("idx/tiny-labels-idx1-ubyte");
  EXPECT_TRUE(throws_error_with([&] { read_idx(path, ""); }, {path, "1 dimensions, expected 3"}));
}

TEST(DataIdx, TruncatedPixels) {
  std::vector<uint8_t> bytes = tiny_images();
  bytes.pop_back();
  BadIdx bad("cut-idx3-ubyte", bytes);
  EXPECT_TRUE(throws_error_with([&] { read_idx(bad.path, ""); }, {bad.path, "truncated", "5x4x3"}));
}

TEST(DataIdx, TruncatedHeader) {
  std::vector<uint8_t> bytes = tiny_images();
  bytes.resize(10);
  BadIdx bad("header-idx3-ubyte", bytes);
  EXPECT_TRUE(throws_error_with([&] { read_idx(bad.path, ""); },
                                {bad.path, "truncated", "16-byte IDX header"}));
}

TEST(DataIdx, HugeDimensionsDoNotOverflow) {
  std::vector<uint8_t> bytes = tiny_images();
  std::fill(bytes.begin() + 4, bytes.begin() + 16, 0xff);  // 3 x (2^32 - 1)
  BadIdx bad("huge-idx3-ubyte", bytes);
  EXPECT_TRUE(throws_error_with([&] { read_idx(bad.path, ""); }, {bad.path, "truncated"}));
}

TEST(DataIdx, ZeroDimension) {
  std::vector<uint8_t> bytes = tiny_images();
  std::fill(bytes.begin() + 8, bytes.begin() + 12, 0);  // rows = 0
  BadIdx bad("zero-idx3-ubyte", bytes);
  EXPECT_TRUE(throws_error_with([&] { read_idx(bad.path, ""); }, {bad.path, "dimension 1 is 0"}));
}

TEST(DataIdx, TrailingBytes) {
  std::vector<uint8_t> bytes = tiny_images();
  bytes.push_back(0);
  BadIdx bad("long-idx3-ubyte", bytes);
  EXPECT_TRUE(throws_error_with([&] { read_idx(bad.path, ""); }, {bad.path, "1 unexpected bytes"}));
}

TEST(DataIdx, LabelCountMismatch) {
  const std::string images = fixture("mnist/t10k-images.idx3-ubyte");  // 3 images
  const std::string labels = fixture("idx/tiny-labels-idx1-ubyte");    // 5 labels
  EXPECT_TRUE(throws_error_with([&] { read_idx(images, labels); },
                                {images, labels, "3 images", "5 labels"}));
}

TEST(DataIdx, CorruptGzip) {
  std::vector<uint8_t> bytes = test::read_bytes(fixture("idx/tiny-images-idx3-ubyte.gz"));
  for (size_t i = 12; i < 30; ++i) bytes[i] ^= 0x5a;  // scramble the deflate stream
  BadIdx bad("corrupt-idx3-ubyte.gz", bytes);
  EXPECT_TRUE(throws_error_with([&] { read_idx(bad.path, ""); }, {bad.path, "corrupt gzip data"}));
}

TEST(DataIdx, CorruptGzipChecksum) {
  std::vector<uint8_t> bytes = test::read_bytes(fixture("idx/tiny-images-idx3-ubyte.gz"));
  bytes[bytes.size() - 8] ^= 0x01;  // the CRC-32 of the gzip trailer
  BadIdx bad("crc-idx3-ubyte.gz", bytes);
  EXPECT_TRUE(
      throws_error_with([&] { read_idx(bad.path, ""); }, {bad.path, "corrupt gzip data", "check"}));
}

TEST(DataIdx, TruncatedGzip) {
  std::vector<uint8_t> bytes = test::read_bytes(fixture("idx/tiny-images-idx3-ubyte.gz"));
  bytes.erase(bytes.end() - 5, bytes.end());
  BadIdx bad("cut-idx3-ubyte.gz", bytes);
  EXPECT_TRUE(
      throws_error_with([&] { read_idx(bad.path, ""); }, {bad.path, "truncated gzip stream"}));
}

TEST(DataIdx, GzNameWithoutGzipData) {
  BadIdx bad("plain-idx3-ubyte.gz", tiny_images());
  EXPECT_TRUE(throws_error_with([&] { read_idx(bad.path, ""); }, {bad.path, "not gzip data"}));
}

TEST(DataIdx, GarbageAfterGzipStream) {
  std::vector<uint8_t> bytes = test::read_bytes(fixture("idx/tiny-images-idx3-ubyte.gz"));
  bytes.push_back(0x42);
  bytes.push_back(0x42);
  BadIdx bad("tail-idx3-ubyte.gz", bytes);
  EXPECT_TRUE(
      throws_error_with([&] { read_idx(bad.path, ""); }, {bad.path, "2 bytes of trailing data"}));
}

TEST(DataIdx, GunzipRespectsOutputLimit) {
  const std::vector<uint8_t> zeros(100000, 0);
  const std::vector<uint8_t> packed = gzip_member(zeros);
  EXPECT_EQ(gunzip(packed.data(), packed.size(), "zeros.gz").size(), zeros.size());
  EXPECT_TRUE(throws_error_with([&] { gunzip(packed.data(), packed.size(), "zeros.gz", 4096); },
                                {"zeros.gz", "more than 4096 bytes"}));
}

TEST(DataIdx, LoadMnistMissingFolder) {
  const std::string dir = fixture("no-such-mnist");
  EXPECT_TRUE(throws_error_with([&] { load_mnist(dir, Split::Train); }, {dir, "no such folder"}));
}

TEST(DataIdx, LoadMnistFolderWithoutFiles) {
  const std::string dir = fixture("png");
  EXPECT_TRUE(throws_error_with([&] { load_fashion_mnist(dir, Split::Test); },
                                {dir, "none of these files exists", "t10k-images-idx3-ubyte.gz"}));
}

TEST(DataIdx, LoadMnistRejectsLabelsOutsideTenClasses) {
  test::TempDir dir;
  test::write_bytes(dir.file("train-images-idx3-ubyte"), tiny_images());
  std::vector<uint8_t> labels = test::read_bytes(fixture("idx/tiny-labels-idx1-ubyte"));
  labels[8 + 2] = 10;
  test::write_bytes(dir.file("train-labels-idx1-ubyte"), labels);
  EXPECT_TRUE(throws_error_with(
      [&] { load_mnist(dir.path(), Split::Train); },
      {dir.file("train-labels-idx1-ubyte"), "label 10 of item 2", "outside 0..9"}));
}

}  // namespace
}  // namespace kite::data
