// safetensors raw layer: round trips of every dtype, a file written by Python's safetensors
// package, atomic writing, and one test per kind of damaged file.
#include "engine/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "engine/error.h"

namespace kite::safetensors {
namespace {

namespace fs = std::filesystem;

template <class T>
RawTensor make_tensor(DTypeCode dtype, std::vector<int64_t> shape, const std::vector<T>& values) {
  RawTensor tensor;
  tensor.dtype = dtype;
  tensor.shape = std::move(shape);
  tensor.bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(tensor.bytes.data(), values.data(), tensor.bytes.size());
  return tensor;
}

template <class T>
std::vector<T> values_of(const RawTensor& tensor) {
  std::vector<T> values(tensor.bytes.size() / sizeof(T));
  if (!values.empty()) std::memcpy(values.data(), tensor.bytes.data(), tensor.bytes.size());
  return values;
}

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Each test gets a fresh directory, removed afterwards.
class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    directory_ = fs::temp_directory_path() /
                 ("kite_safetensors_" + std::to_string(getpid()) + "_" + info->name());
    fs::remove_all(directory_);
    fs::create_directories(directory_);
  }
  void TearDown() override { fs::remove_all(directory_); }

  std::string path(const std::string& name) const { return (directory_ / name).string(); }

  // A file with the given header text (unpadded) and data bytes, written byte by byte.
  std::string write_raw(const std::string& name, const std::string& header, const std::string& data,
                        uint64_t header_length_field) {
    const std::string file = path(name);
    std::ofstream out(file, std::ios::binary);
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((header_length_field >> (8 * i)) & 0xFF));
    out << header << data;
    return file;
  }
  std::string write_raw(const std::string& name, const std::string& header,
                        const std::string& data) {
    return write_raw(name, header, data, header.size());
  }

  // read() must throw kite::Error whose message names the file and contains `problem`.
  void expect_read_error(const std::string& file, const std::string& problem) {
    try {
      read(file);
      ADD_FAILURE() << "reading " << file << " did not throw (expected: " << problem << ")";
    } catch (const Error& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find(file), std::string::npos) << "message lacks the path: " << message;
      EXPECT_NE(message.find(problem), std::string::npos)
          << "message lacks '" << problem << "': " << message;
    }
  }

  fs::path directory_;
};

File every_dtype_file() {
  File file;
  file.tensors["weight"] =
      make_tensor<float>(DTypeCode::F32, {2, 3}, {1.0f, -2.5f, 3.25f, 0.0f, -0.0f, 1e-38f});
  file.tensors["double"] =
      make_tensor<double>(DTypeCode::F64, {4},
                          {std::numbers::pi, -1e300, std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::denorm_min()});
  file.tensors["step"] = make_tensor<int64_t>(
      DTypeCode::I64, {3},
      {std::numeric_limits<int64_t>::min(), -1, std::numeric_limits<int64_t>::max()});
  file.tensors["mask"] = make_tensor<uint8_t>(DTypeCode::U8, {5}, {0, 1, 127, 128, 255});
  file.tensors["scalar"] = make_tensor<float>(DTypeCode::F32, {}, {42.5f});
  file.tensors["empty"] = make_tensor<float>(DTypeCode::F32, {0}, {});
  file.tensors["empty_2d"] = make_tensor<double>(DTypeCode::F64, {2, 0}, {});
  file.tensors["encoder.block1.conv1.weight"] =
      make_tensor<float>(DTypeCode::F32, {1, 1, 1, 2}, {0.5f, -0.5f});
  file.metadata["rng"] = "philox4x32-10 seed=1 offset=8";
  file.metadata["config"] = R"({"lr": 0.001, "name": "vae \"small\""})";
  file.metadata["unicode"] = "\xCE\xB2-VAE \xE2\x9C\x93\nsecond line";
  return file;
}

void expect_same(const File& actual, const File& expected) {
  ASSERT_EQ(actual.tensors.size(), expected.tensors.size());
  for (const auto& [name, tensor] : expected.tensors) {
    auto found = actual.tensors.find(name);
    ASSERT_NE(found, actual.tensors.end()) << name;
    EXPECT_EQ(found->second.dtype, tensor.dtype) << name;
    EXPECT_EQ(found->second.shape, tensor.shape) << name;
    EXPECT_EQ(found->second.bytes, tensor.bytes) << name;
  }
  EXPECT_EQ(actual.metadata, expected.metadata);
}

TEST_F(SafetensorsTest, RoundTripEveryDtypeAndMetadata) {
  const File original = every_dtype_file();
  write(path("model.safetensors"), original);
  expect_same(read(path("model.safetensors")), original);
}

TEST_F(SafetensorsTest, RoundTripWithoutTensorsOrMetadata) {
  write(path("empty.safetensors"), File{});
  const File back = read(path("empty.safetensors"));
  EXPECT_TRUE(back.tensors.empty());
  EXPECT_TRUE(back.metadata.empty());
}

TEST_F(SafetensorsTest, WrittenLayoutFollowsTheFormat) {
  write(path("layout.safetensors"), every_dtype_file());
  const std::string bytes = file_bytes(path("layout.safetensors"));
  ASSERT_GE(bytes.size(), 8u);
  uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | uint8_t(bytes[i]);
  EXPECT_EQ((8 + header_length) % 8, 0u) << "data region must start 8-byte aligned";
  EXPECT_EQ(bytes[8], '{');
  const std::string header = bytes.substr(8, header_length);
  EXPECT_NE(header.find("\"__metadata__\""), std::string::npos);
  EXPECT_NE(header.find("\"dtype\":\"I64\""), std::string::npos);
  // Data region = exactly the tensor bytes, packed.
  size_t data_bytes = 0;
  for (const auto& [name, tensor] : every_dtype_file().tensors) data_bytes += tensor.bytes.size();
  EXPECT_EQ(bytes.size(), 8 + header_length + data_bytes);
  EXPECT_FALSE(fs::exists(path("layout.safetensors.tmp")));
}

// tests/reference/python_written.safetensors comes from make_safetensors_fixture.py.
TEST_F(SafetensorsTest, ReadsFileWrittenByPythonSafetensors) {
  const File file = read(std::string(KITE_TEST_REFERENCE_DIR) + "/python_written.safetensors");
  ASSERT_EQ(file.tensors.size(), 6u);

  const RawTensor& f32 = file.tensors.at("f32");
  EXPECT_EQ(f32.dtype, DTypeCode::F32);
  EXPECT_EQ(f32.shape, (std::vector<int64_t>{2, 3}));
  const std::vector<float> f32_values = values_of<float>(f32);
  EXPECT_EQ(f32_values, (std::vector<float>{1.5f, -2.25f, 3.0e38f, 0.1f, 1.0e-30f, -0.0f}));
  EXPECT_TRUE(std::signbit(f32_values[5]));

  const RawTensor& f64 = file.tensors.at("f64");
  EXPECT_EQ(f64.dtype, DTypeCode::F64);
  EXPECT_EQ(f64.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(
      values_of<double>(f64),
      (std::vector<double>{std::numbers::pi, -1.0e300, std::numeric_limits<double>::denorm_min()}));

  const RawTensor& i64 = file.tensors.at("i64");
  EXPECT_EQ(i64.dtype, DTypeCode::I64);
  EXPECT_EQ(i64.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(values_of<int64_t>(i64),
            (std::vector<int64_t>{std::numeric_limits<int64_t>::min(),
                                  std::numeric_limits<int64_t>::max(), 0, -1}));

  const RawTensor& u8 = file.tensors.at("u8");
  EXPECT_EQ(u8.dtype, DTypeCode::U8);
  EXPECT_EQ(u8.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(u8.bytes, (std::vector<uint8_t>{0, 51, 102, 153, 204, 255}));

  const RawTensor& scalar = file.tensors.at("scalar");
  EXPECT_EQ(scalar.dtype, DTypeCode::F32);
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(values_of<float>(scalar), (std::vector<float>{7.25f}));

  const RawTensor& empty = file.tensors.at("empty");
  EXPECT_EQ(empty.dtype, DTypeCode::F64);
  EXPECT_EQ(empty.shape, (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(empty.bytes.empty());

  EXPECT_EQ(
      file.metadata,
      (std::map<std::string, std::string>{
          {"format", "np"}, {"step", "42"}, {"note", "written by make_safetensors_fixture.py"}}));
}

// ---- Writing never leaves a half-written file ----

TEST_F(SafetensorsTest, WriteIntoMissingDirectoryThrows) {
  const std::string target = path("no/such/dir/model.safetensors");
  try {
    write(target, every_dtype_file());
    ADD_FAILURE() << "write into a missing directory did not throw";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(target), std::string::npos) << error.what();
  }
  EXPECT_FALSE(fs::exists(target));
}

TEST_F(SafetensorsTest, FailedWriteKeepsExistingFile) {
  const std::string target = path("checkpoint.safetensors");
  const File original = every_dtype_file();
  write(target, original);
  const std::string before = file_bytes(target);

  // The temporary file cannot be created: a directory is in its place.
  fs::create_directory(target + ".tmp");
  File replacement;
  replacement.tensors["x"] = make_tensor<float>(DTypeCode::F32, {1}, {1.0f});
  EXPECT_THROW(write(target, replacement), Error);
  EXPECT_EQ(file_bytes(target), before);
  fs::remove(target + ".tmp");

  // A tensor whose bytes do not match its shape is refused before anything is written.
  File inconsistent;
  inconsistent.tensors["x"] = make_tensor<float>(DTypeCode::F32, {3}, {1.0f, 2.0f});
  try {
    write(target, inconsistent);
    ADD_FAILURE() << "inconsistent tensor accepted";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(target), std::string::npos) << message;
    EXPECT_NE(message.find("'x'"), std::string::npos) << message;
  }
  EXPECT_EQ(file_bytes(target), before);
  EXPECT_FALSE(fs::exists(target + ".tmp"));
  expect_same(read(target), original);
}

TEST_F(SafetensorsTest, OverwriteReplacesWholeFile) {
  const std::string target = path("model.safetensors");
  write(target, every_dtype_file());
  File smaller;
  smaller.tensors["only"] = make_tensor<int64_t>(DTypeCode::I64, {1}, {5});
  write(target, smaller);
  expect_same(read(target), smaller);
}

TEST_F(SafetensorsTest, WriteRejectsReservedName) {
  File file;
  file.tensors["__metadata__"] = make_tensor<float>(DTypeCode::F32, {1}, {1.0f});
  EXPECT_THROW(write(path("bad.safetensors"), file), Error);
  EXPECT_FALSE(fs::exists(path("bad.safetensors")));
}

// ---- Damaged files: one test per problem ----

const char* kGoodEntry = R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})";

TEST_F(SafetensorsTest, MissingFile) {
  expect_read_error(path("absent.safetensors"), "does not exist");
}

TEST_F(SafetensorsTest, ZeroByteFile) {
  const std::string file = path("zero.safetensors");
  std::ofstream(file, std::ios::binary).close();
  expect_read_error(file, "0 bytes, too short");
}

TEST_F(SafetensorsTest, ShorterThanLengthField) {
  const std::string file = path("short.safetensors");
  std::ofstream(file, std::ios::binary) << "abc";
  expect_read_error(file, "3 bytes, too short");
}

TEST_F(SafetensorsTest, HeaderLengthOverLimit) {
  const std::string file = write_raw("huge.safetensors", "{}", "", uint64_t{1} << 40);
  expect_read_error(file, "exceeds the limit");
}

TEST_F(SafetensorsTest, HeaderLengthPastEndOfFile) {
  const std::string file = write_raw("long.safetensors", "{}", "", 1000);
  expect_read_error(file, "header length 1000 exceeds the 2 bytes");
}

TEST_F(SafetensorsTest, HeaderNotJson) {
  const std::string file = write_raw("json.safetensors", R"({"a": {"dtype": )", "");
  expect_read_error(file, "not valid JSON");
}

TEST_F(SafetensorsTest, HeaderNotObject) {
  const std::string file = write_raw("array.safetensors", "[1, 2]", "");
  expect_read_error(file, "not a JSON object");
}

TEST_F(SafetensorsTest, UnsupportedDtype) {
  const std::string file =
      write_raw("bf16.safetensors", R"({"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})",
                std::string(4, '\0'));
  expect_read_error(file, "unsupported dtype 'BF16'");
}

TEST_F(SafetensorsTest, MissingDtype) {
  const std::string file = write_raw(
      "nodtype.safetensors", R"({"a":{"shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  expect_read_error(file, "no \"dtype\"");
}

TEST_F(SafetensorsTest, NegativeShape) {
  const std::string file =
      write_raw("negative.safetensors",
                R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  expect_read_error(file, "invalid shape");
}

TEST_F(SafetensorsTest, OffsetsOutOfRange) {
  const std::string file = write_raw(
      "range.safetensors", R"({"a":{"dtype":"F32","shape":[100],"data_offsets":[0,400]}})",
      std::string(16, '\0'));
  expect_read_error(file, "past the end of the 16-byte data region");
}

TEST_F(SafetensorsTest, OffsetsReversed) {
  const std::string file =
      write_raw("reversed.safetensors", R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[8,4]}})",
                std::string(16, '\0'));
  expect_read_error(file, "begin after end");
}

TEST_F(SafetensorsTest, TruncatedData) {
  const std::string file = path("truncated.safetensors");
  write(file, every_dtype_file());
  fs::resize_file(file, fs::file_size(file) - 3);
  expect_read_error(file, "past the end");
}

TEST_F(SafetensorsTest, OverlappingTensors) {
  const std::string file = write_raw(
      "overlap.safetensors",
      std::string("{") + kGoodEntry + R"(,"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
      std::string(24, '\0'));
  expect_read_error(file, "overlap");
}

TEST_F(SafetensorsTest, ShapeSizeMismatch) {
  const std::string file = write_raw("mismatch.safetensors",
                                     R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})",
                                     std::string(16, '\0'));
  expect_read_error(file, "needs 12 bytes");
}

TEST_F(SafetensorsTest, ShapeOverflowingByteCount) {
  const std::string file = write_raw(
      "overflow.safetensors",
      R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", "");
  expect_read_error(file, "needs too many bytes");
}

TEST_F(SafetensorsTest, MetadataValueNotString) {
  const std::string file = write_raw(
      "meta.safetensors", std::string(R"({"__metadata__":{"step":42},)") + kGoodEntry + "}",
      std::string(16, '\0'));
  expect_read_error(file, "metadata value of 'step' is not a string");
}

TEST_F(SafetensorsTest, DirectoryInsteadOfFile) {
  expect_read_error(directory_.string(), "not a regular file");
}

// A well-formed hand-made file with padding and unsorted entries reads fine: the checks above
// are not just rejecting everything.
TEST_F(SafetensorsTest, HandWrittenFileReads) {
  const float values[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  std::string data(reinterpret_cast<const char*>(values), sizeof(values));
  data += std::string("\x07\x08", 2);
  const std::string header = R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[16,18]},)" +
                             std::string(kGoodEntry) + "}    ";
  const File file = read(write_raw("good.safetensors", header, data));
  EXPECT_EQ(values_of<float>(file.tensors.at("a")), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(file.tensors.at("b").bytes, (std::vector<uint8_t>{7, 8}));
}

}  // namespace
}  // namespace kite::safetensors
