// PNG encoding through libpng: 8-bit gray or RGB from planar pixels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kite::data {

// Encodes c (1 gray, 3 RGB) x h x w planar bytes as a PNG file image in memory.
std::vector<uint8_t> encode_png(int64_t c, int64_t h, int64_t w, const uint8_t* pixels);

// Encodes and writes to `path` (through a temporary file renamed into place).
void write_png(const std::string& path, int64_t c, int64_t h, int64_t w, const uint8_t* pixels);

}  // namespace kite::data
