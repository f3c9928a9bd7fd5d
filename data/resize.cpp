// Geometry on single images: center crop, resize, gray to RGB.
#include "data/resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"

namespace kite::data {

namespace {

// Output pixel `out` of one axis is the sum of weight * input[index] over its taps.
struct Tap {
  int64_t index;
  double weight;
};
using AxisWeights = std::vector<std::vector<Tap>>;

AxisWeights area_weights(int64_t in, int64_t out) {
  // Output pixel j covers input interval [j*scale, (j+1)*scale).
  const double scale = static_cast<double>(in) / out;
  AxisWeights weights(out);
  for (int64_t j = 0; j < out; ++j) {
    const double begin = j * scale, end = (j + 1) * scale;
    const int64_t first = static_cast<int64_t>(std::floor(begin));
    const int64_t last = std::min(in - 1, static_cast<int64_t>(std::ceil(end)) - 1);
    for (int64_t k = first; k <= last; ++k) {
      const double covered = std::min(end, k + 1.0) - std::max(begin, static_cast<double>(k));
      if (covered > 0) weights[j].push_back({k, covered / scale});
    }
  }
  return weights;
}

AxisWeights bilinear_weights(int64_t in, int64_t out) {
  const double scale = static_cast<double>(in) / out;
  AxisWeights weights(out);
  for (int64_t j = 0; j < out; ++j) {
    // Centre of output pixel j, in input pixel coordinates (centres at k + 0.5).
    const double source = std::clamp((j + 0.5) * scale - 0.5, 0.0, static_cast<double>(in - 1));
    const int64_t left = static_cast<int64_t>(std::floor(source));
    const int64_t right = std::min(left + 1, in - 1);
    const double fraction = source - left;
    weights[j].push_back({left, 1.0 - fraction});
    if (fraction > 0) weights[j].push_back({right, fraction});
  }
  return weights;
}

AxisWeights axis_weights(int64_t in, int64_t out) {
  return out < in ? area_weights(in, out) : bilinear_weights(in, out);
}

}  // namespace

Image center_crop(const Image& image, int64_t crop_h, int64_t crop_w, const std::string& name) {
  KITE_CHECK(crop_h > 0 && crop_w > 0,
             name << ": center crop size " << crop_h << "x" << crop_w << " must be positive");
  KITE_CHECK(image.h >= crop_h && image.w >= crop_w,
             name << ": image of " << image.h << "x" << image.w << " pixels is smaller than the "
                  << crop_h << "x" << crop_w << " center crop");
  const int64_t top = (image.h - crop_h) / 2, left = (image.w - crop_w) / 2;
  Image out;
  out.c = image.c;
  out.h = crop_h;
  out.w = crop_w;
  out.pixels.resize(out.c * crop_h * crop_w);
  for (int64_t ch = 0; ch < image.c; ++ch) {
    for (int64_t y = 0; y < crop_h; ++y) {
      const uint8_t* from = &image.pixels[(ch * image.h + top + y) * image.w + left];
      std::copy(from, from + crop_w, &out.pixels[(ch * crop_h + y) * crop_w]);
    }
  }
  return out;
}

Image resize_image(const Image& image, int64_t out_h, int64_t out_w) {
  KITE_CHECK(out_h > 0 && out_w > 0,
             "resize_image: target size " << out_h << "x" << out_w << " must be positive");
  KITE_CHECK(image.h > 0 && image.w > 0, "resize_image: empty input image");
  if (out_h == image.h && out_w == image.w) return image;
  const AxisWeights along_x = axis_weights(image.w, out_w);
  const AxisWeights along_y = axis_weights(image.h, out_h);

  Image out;
  out.c = image.c;
  out.h = out_h;
  out.w = out_w;
  out.pixels.resize(out.c * out_h * out_w);
  std::vector<double> rows(image.h * out_w);  // one channel resized along x only
  for (int64_t ch = 0; ch < image.c; ++ch) {
    const uint8_t* in = &image.pixels[ch * image.h * image.w];
    for (int64_t y = 0; y < image.h; ++y) {
      for (int64_t x = 0; x < out_w; ++x) {
        double sum = 0;
        for (const Tap& tap : along_x[x]) sum += tap.weight * in[y * image.w + tap.index];
        rows[y * out_w + x] = sum;
      }
    }
    uint8_t* result = &out.pixels[ch * out_h * out_w];
    for (int64_t y = 0; y < out_h; ++y) {
      for (int64_t x = 0; x < out_w; ++x) {
        double sum = 0;
        for (const Tap& tap : along_y[y]) sum += tap.weight * rows[tap.index * out_w + x];
        result[y * out_w + x] = static_cast<uint8_t>(std::clamp(std::lround(sum), 0L, 255L));
      }
    }
  }
  return out;
}

Image gray_to_rgb(const Image& image) {
  if (image.c != 1) return image;
  Image out;
  out.c = 3;
  out.h = image.h;
  out.w = image.w;
  out.pixels.reserve(3 * image.pixels.size());
  for (int ch = 0; ch < 3; ++ch)
    out.pixels.insert(out.pixels.end(), image.pixels.begin(), image.pixels.end());
  return out;
}

}  // namespace kite::data
