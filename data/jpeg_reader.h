// JPEG decoding through libjpeg-turbo into planar 8-bit gray or RGB.
//
// Gray JPEGs give one channel, colour ones three; CMYK is refused. libjpeg's warnings
// (premature end of data, corrupt entropy-coded data) are errors here: libjpeg would fill
// the missing part with grey and carry on, and a dataset must not silently contain that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "data/image_set.h"

namespace kite::data {

// True when the bytes start with a JPEG start-of-image marker (ff d8 ff).
bool looks_like_jpeg(const uint8_t* data, size_t size);

// Decodes a whole JPEG file held in memory. `name` goes into error messages.
Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name);

}  // namespace kite::data
