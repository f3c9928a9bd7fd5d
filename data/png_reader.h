// PNG decoding through libpng into planar 8-bit gray or RGB.
//
// Every PNG colour type is accepted: 1/2/4-bit gray expands to 0..255, palettes become RGB,
// 16-bit samples are scaled to 8 bits with rounding (v / 257), and alpha (an alpha channel
// or a tRNS chunk) is dropped without compositing. No gamma correction is applied: the
// stored sample values are what a dataset means.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "data/image_set.h"

namespace kite::data {

// True when the bytes start with the 8-byte PNG signature.
bool looks_like_png(const uint8_t* data, size_t size);

// Decodes a whole PNG file held in memory. `name` (a file name) goes into error messages.
// Throws kite::Error for anything libpng rejects (bad signature, CRC errors, truncation,
// corrupt compressed data) and for headers announcing more pixels than the file could hold.
Image decode_png(const uint8_t* data, size_t size, const std::string& name);

}  // namespace kite::data
