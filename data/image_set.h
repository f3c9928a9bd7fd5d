// The raw, tensor-free result of every dataset reader in data/: uint8 pixels plus labels.
//
// Readers fill an ImageSet (many images of one size) or an Image (one decoded file).
// Both keep channels planar (CHW per image, NCHW for a set) because that is the layout
// the tensor loader and the models use; decoders that produce interleaved pixels convert.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kite::data {

// Which half of a dataset to read.
enum class Split { Train, Test };

inline const char* split_name(Split split) { return split == Split::Train ? "train" : "test"; }

// One image: c channels (1 gray, 3 RGB) of h rows and w columns, planar.
struct Image {
  int64_t c = 0, h = 0, w = 0;
  std::vector<uint8_t> pixels;  // c*h*w, pixels[(ch*h + y)*w + x]

  uint8_t at(int64_t ch, int64_t y, int64_t x) const { return pixels[(ch * h + y) * w + x]; }
};

// uint8 images, NCHW, plus optional labels and ground-truth factors.
struct ImageSet {
  int64_t n = 0, c = 0, h = 0, w = 0;
  std::vector<uint8_t> pixels;            // n*c*h*w
  std::vector<int64_t> labels;            // n or empty
  std::vector<int64_t> factors;           // n * num_factors or empty (synthetic shapes)
  std::vector<std::string> factor_names;  // num_factors names, in the order of `factors`

  int64_t image_bytes() const { return c * h * w; }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_bytes(); }
  uint8_t at(int64_t i, int64_t ch, int64_t y, int64_t x) const {
    return pixels[((i * c + ch) * h + y) * w + x];
  }
};

}  // namespace kite::data
