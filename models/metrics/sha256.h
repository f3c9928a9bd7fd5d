// SHA-256 (FIPS 180-4) of bytes and files, as lowercase hex: versions feature extractors by
// the hash of their weights file, so that `sha256sum weights.safetensors` gives the same
// string and scores computed with different weights are never mixed up.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace kite::metrics {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  // The digest as 64 hex characters; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  void compress(const std::uint8_t* block);

  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
  bool finished_ = false;
};

std::string sha256_hex(const void* data, std::size_t size);
// Throws kite::Error naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace kite::metrics
