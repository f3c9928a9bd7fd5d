// CIFAR-10 binary batches: the fixture split across five training files and a test file,
// the nested folder the archive unpacks to, and wrong sizes and labels.
#include <gtest/gtest.h>

#include "data/cifar10.h"
#include "tests/unit/data_test_util.h"

namespace kite::data {
namespace {

using test::fixture;
using test::throws_error_with;

void expect_records(const ImageSet& set, const std::vector<int>& globals) {
  ASSERT_EQ(set.n, int64_t(globals.size()));
  ASSERT_EQ(set.c, 3);
  ASSERT_EQ(set.h, 32);
  ASSERT_EQ(set.w, 32);
  ASSERT_EQ(set.pixels.size(), globals.size() * 3072);
  for (size_t i = 0; i < globals.size(); ++i) {
    const int g = globals[i];
    EXPECT_EQ(set.labels[i], test::cifar_label(g));
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; y += 7)
        for (int x = 0; x < 32; x += 5)
          ASSERT_EQ(set.at(i, c, y, x), test::cifar_pixel(g, c, y, x));
  }
}

TEST(DataCifar10, TrainSplitConcatenatesFiveBatches) {
  expect_records(load_cifar10(fixture("cifar10"), Split::Train), {0, 1, 2, 3, 4, 5});
}

TEST(DataCifar10, TestSplit) {
  expect_records(load_cifar10(fixture("cifar10"), Split::Test), {100, 101});
}

TEST(DataCifar10, SingleBatch) {
  expect_records(read_cifar10_batch(fixture("cifar10/data_batch_3.bin")), {2, 3});
}

TEST(DataCifar10, FindsTheArchiveSubfolder) {
  test::TempDir dir;
  std::filesystem::create_directory(dir.file("cifar-10-batches-bin"));
  test::write_bytes(dir.file("cifar-10-batches-bin/test_batch.bin"),
                    test::read_bytes(fixture("cifar10/test_batch.bin")));
  expect_records(load_cifar10(dir.path(), Split::Test), {100, 101});
}

TEST(DataCifar10, ClassNames) {
  ASSERT_EQ(cifar10_class_names().size(), 10u);
  EXPECT_EQ(cifar10_class_names()[0], "airplane");
  EXPECT_EQ(cifar10_class_names()[9], "truck");
}

// ---- bad inputs

TEST(DataCifar10, TruncatedBatch) {
  test::TempDir dir;
  std::vector<uint8_t> bytes = test::read_bytes(fixture("cifar10/test_batch.bin"));
  bytes.erase(bytes.end() - 100, bytes.end());
  const std::string path = dir.file("test_batch.bin");
  test::write_bytes(path, bytes);
  EXPECT_TRUE(
      throws_error_with([&] { read_cifar10_batch(path); },
                        {path, "not a multiple of the 3073-byte CIFAR-10 record", "truncated"}));
}

TEST(DataCifar10, ZeroByteBatch) {
  test::TempDir dir;
  const std::string path = dir.file("test_batch.bin");
  test::write_bytes(path, {});
  EXPECT_TRUE(throws_error_with([&] { load_cifar10(dir.path(), Split::Test); },
                                {path, "empty file (0 bytes)"}));
}

TEST(DataCifar10, LabelOutOfRange) {
  test::TempDir dir;
  std::vector<uint8_t> bytes = test::read_bytes(fixture("cifar10/test_batch.bin"));
  bytes[3073] = 200;  // label of the second record
  const std::string path = dir.file("test_batch.bin");
  test::write_bytes(path, bytes);
  EXPECT_TRUE(
      throws_error_with([&] { read_cifar10_batch(path); }, {path, "record 1 has label 200"}));
}

TEST(DataCifar10, MissingTrainingBatch) {
  test::TempDir dir;
  test::write_bytes(dir.file("test_batch.bin"),
                    test::read_bytes(fixture("cifar10/test_batch.bin")));
  EXPECT_TRUE(throws_error_with([&] { load_cifar10(dir.path(), Split::Train); },
                                {dir.file("data_batch_1.bin"), "no such file"}));
}

TEST(DataCifar10, MissingFolder) {
  const std::string dir = fixture("no-such-cifar");
  EXPECT_TRUE(throws_error_with([&] { load_cifar10(dir, Split::Train); }, {dir, "no such folder"}));
}

}  // namespace
}  // namespace kite::data
