// Geometry on single images: center crop, resize, gray to RGB.
//
// Resizing is separable, one axis at a time, and picks its filter per axis:
//  - shrinking averages areas: each output pixel is the mean of the input it covers,
//    counting partly covered input pixels by the covered fraction (no aliasing);
//  - growing (or keeping the size) interpolates bilinearly between pixel centres, the
//    half-pixel convention (align_corners = false), clamping at the borders.
// Results are rounded to the nearest integer.
#pragma once

#include <cstdint>
#include <string>

#include "data/image_set.h"

namespace kite::data {

// The central crop_h x crop_w window (rounded toward the top-left when the margin is odd).
// Throws kite::Error naming `name` when the image is smaller than the crop.
Image center_crop(const Image& image, int64_t crop_h, int64_t crop_w, const std::string& name);

// Resamples to out_h x out_w with the filters described above.
Image resize_image(const Image& image, int64_t out_h, int64_t out_w);

// Copies the one gray channel into three; RGB images are returned unchanged.
Image gray_to_rgb(const Image& image);

}  // namespace kite::data
