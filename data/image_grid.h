// A grid of images in one picture: how samples and reconstructions are looked at.
#pragma once

#include <cstdint>
#include <string>

#include "data/image_set.h"

namespace kite::data {

// Lays out n float images (NCHW, values in [0, 1], clamped; NaN shows as 0) in rows of
// `columns`, with `padding` pixels of pad_value around and between them. c is 1 or 3.
// Pixel values map to round(255 * v).
Image make_image_grid(const float* images, int64_t n, int64_t c, int64_t h, int64_t w,
                      int64_t columns, int64_t padding, float pad_value = 0.0f);

// make_image_grid, written as an 8-bit PNG.
void write_image_grid(const std::string& path, const float* images, int64_t n, int64_t c, int64_t h,
                      int64_t w, int64_t columns, int64_t padding, float pad_value = 0.0f);

}  // namespace kite::data
