// Random erasing (Zhong et al. 2020, as torchvision.transforms.RandomErasing): blank out one
// random rectangle per image. The paper's autoencoder is trained to reconstruct the clean
// image from an erased one ("denoising").
//
// A data-side op: it draws from a Generator (the process default unless one is given) and
// records no gradient. Sampling is separate from erasing so that tests and data loaders can
// inspect or reuse the rectangles.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/generator.h"
#include "engine/tensor.h"

namespace kite {

struct RandomErasingOptions {
  double probability = 0.5;                   // chance that an image is erased at all
  double min_area = 0.02, max_area = 0.33;    // rectangle area as a fraction of the image
  double min_aspect = 0.3, max_aspect = 3.3;  // height / width, drawn log-uniformly
  double value = 0.0;                         // what erased pixels become
  int max_attempts = 10;  // draws of (area, aspect) until one fits; else no erasing
};

// One image's rectangle: rows [top, top + height), columns [left, left + width).
// height == 0 means the image is left alone.
struct EraseBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
  bool operator==(const EraseBox&) const = default;
};

// One box per image. Every image consumes the same number of generator words
// (1 + 4 * max_attempts doubles), so box i depends only on the generator state and i.
std::vector<EraseBox> sample_erase_boxes(int64_t count, int64_t height, int64_t width,
                                         const RandomErasingOptions& options, Generator& generator);

// A copy of images ([N, C, H, W], or one [C, H, W] image with one box) with boxes[n] set to
// `value` in every channel of image n.
Tensor erase_boxes(const Tensor& images, const std::vector<EraseBox>& boxes, double value);

// sample_erase_boxes + erase_boxes.
Tensor random_erase(const Tensor& images, const RandomErasingOptions& options = {},
                    Generator* generator = nullptr);

}  // namespace kite
