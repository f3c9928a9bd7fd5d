// A grid of images in one picture: how samples and reconstructions are looked at.
#include "data/image_grid.h"

#include <algorithm>
#include <cmath>

#include "data/png_writer.h"
#include "engine/error.h"

namespace kite::data {

namespace {

uint8_t to_byte(float value) {
  if (!(value > 0.0f)) return 0;  // also catches NaN
  if (value >= 1.0f) return 255;
  return static_cast<uint8_t>(std::lround(value * 255.0f));
}

}  // namespace

Image make_image_grid(const float* images, int64_t n, int64_t c, int64_t h, int64_t w,
                      int64_t columns, int64_t padding, float pad_value) {
  KITE_CHECK(n > 0 && h > 0 && w > 0,
             "make_image_grid: no pixels (n=" << n << ", h=" << h << ", w=" << w << ")");
  KITE_CHECK(c == 1 || c == 3, "make_image_grid: " << c << " channels, expected 1 or 3");
  KITE_CHECK(columns > 0 && padding >= 0, "make_image_grid: columns "
                                              << columns << " must be positive and padding "
                                              << padding << " not negative");
  KITE_CHECK(images != nullptr, "make_image_grid: null image pointer");
  const int64_t used_columns = std::min(columns, n);
  const int64_t rows = (n + columns - 1) / columns;
  Image grid;
  grid.c = c;
  grid.h = rows * h + (rows + 1) * padding;
  grid.w = used_columns * w + (used_columns + 1) * padding;
  grid.pixels.assign(c * grid.h * grid.w, to_byte(pad_value));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t top = padding + (i / columns) * (h + padding);
    const int64_t left = padding + (i % columns) * (w + padding);
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t y = 0; y < h; ++y) {
        const float* from = images + ((i * c + ch) * h + y) * w;
        uint8_t* to = &grid.pixels[(ch * grid.h + top + y) * grid.w + left];
        for (int64_t x = 0; x < w; ++x) to[x] = to_byte(from[x]);
      }
    }
  }
  return grid;
}

void write_image_grid(const std::string& path, const float* images, int64_t n, int64_t c, int64_t h,
                      int64_t w, int64_t columns, int64_t padding, float pad_value) {
  const Image grid = make_image_grid(images, n, c, h, w, columns, padding, pad_value);
  write_png(path, grid.c, grid.h, grid.w, grid.pixels.data());
}

}  // namespace kite::data
