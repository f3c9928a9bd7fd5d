// Whole-file reads and writes with errors that name the file.
#include "data/file_bytes.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "engine/atomic_file.h"
#include "engine/error.h"

namespace kite::data {

namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using FileHandle = std::unique_ptr<std::FILE, FileCloser>;

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  KITE_CHECK(std::filesystem::exists(status), path << ": no such file");
  KITE_CHECK(!std::filesystem::is_directory(status), path << ": is a folder, expected a file");

  FileHandle file(std::fopen(path.c_str(), "rb"));
  KITE_CHECK(file, path << ": cannot open for reading: " << std::strerror(errno));

  // Read in chunks rather than trusting a size from stat: works for pipes and for files
  // that change size while being read.
  std::vector<uint8_t> bytes;
  constexpr size_t kChunk = size_t{1} << 20;
  while (true) {
    const size_t old_size = bytes.size();
    bytes.resize(old_size + kChunk);
    const size_t got = std::fread(bytes.data() + old_size, 1, kChunk, file.get());
    bytes.resize(old_size + got);
    if (got < kChunk) break;
  }
  KITE_CHECK(!std::ferror(file.get()), path << ": read error: " << std::strerror(errno));
  return bytes;
}

void write_file_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_file_atomically(path, bytes.data(), bytes.size());
}

bool has_suffix(const std::string& name, const std::string& suffix) {
  if (name.size() < suffix.size()) return false;
  const size_t start = name.size() - suffix.size();
  for (size_t i = 0; i < suffix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(name[start + i])) !=
        std::tolower(static_cast<unsigned char>(suffix[i])))
      return false;
  }
  return true;
}

}  // namespace kite::data
