// Helpers shared by the data_*.cpp tests: fixture paths, the pixel formulas the fixtures
// were made with (tests/data/make_data_fixtures.py holds the same formulas), a temporary
// folder, and an assertion that a call throws kite::Error with a given message.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "engine/error.h"

namespace kite::data::test {

inline std::string fixture(const std::string& relative) {
  return std::string(KITE_TEST_DATA_DIR) + "/" + relative;
}

// Pixel formulas of the fixtures.
inline int pattern8(int c, int y, int x) { return (37 * x + 11 * y + 85 * c + 7) % 256; }
inline int pattern16(int c, int y, int x) {
  return (4099 * x + 1031 * y + 21845 * c + 300) % 65536;
}
inline int bit1(int y, int x) { return (x * y + x) % 3 == 0 ? 1 : 0; }
inline std::vector<int> palette_entry(int k) {
  return {(k * 50) % 256, (k * 90 + 10) % 256, (255 - k * 40) % 256};
}
inline int palette_index6(int y, int x) { return (x + 2 * y) % 6; }
inline int palette_index4(int y, int x) { return (x + y) % 4; }
inline int smooth(int c, int y, int x) { return 20 + 8 * x + 5 * y + 30 * c; }
inline int idx_pixel(int i, int r, int col) { return (i * 31 + r * 7 + col * 3) % 256; }
inline int idx_label(int i) { return (i * 3 + 1) % 10; }
inline int cifar_label(int g) { return (g * 7 + 3) % 10; }
inline int cifar_pixel(int g, int c, int y, int x) {
  return (g * 13 + c * 71 + y * 5 + x * 3) % 256;
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// A fresh folder under the system temporary folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    // Process id and test name: parallel ctest runs, and several checkouts, never collide.
    std::string name = "kite_data_test_" + std::to_string(::getpid());
    if (info) name += std::string("_") + info->test_suite_name() + "_" + info->name();
    path_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Passes when `call` throws kite::Error whose message contains every one of `parts`.
inline ::testing::AssertionResult throws_error_with(const std::function<void()>& call,
                                                    std::initializer_list<std::string> parts) {
  try {
    call();
  } catch (const kite::Error& error) {
    const std::string message = error.what();
    for (const auto& part : parts) {
      if (message.find(part) == std::string::npos) {
        return ::testing::AssertionFailure()
               << "message \"" << message << "\" lacks \"" << part << "\"";
      }
    }
    return ::testing::AssertionSuccess() << message;
  } catch (const std::exception& other) {
    return ::testing::AssertionFailure() << "threw a non-kite exception: " << other.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

}  // namespace kite::data::test
