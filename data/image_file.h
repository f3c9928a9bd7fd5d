// One image file, PNG or JPEG, chosen by its content rather than its name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "data/image_set.h"

namespace kite::data {

// Decodes PNG or JPEG bytes (sniffed from the signature). `name` goes into error messages.
Image decode_image(const uint8_t* data, size_t size, const std::string& name);

// Reads and decodes an image file into planar uint8 (c = 1 gray or 3 RGB).
Image read_image(const std::string& path);

// True for names ending in .png, .jpg or .jpeg (any case): what an image folder reads.
bool is_image_file_name(const std::string& name);

}  // namespace kite::data
