// Synthetic shapes in the style of dSprites: binary images of a square, an ellipse or a
// heart, with known generating factors, for measuring disentanglement.
//
// Factors and their values (all combinations: 3*6*40*32*32 = 737280 images):
//   shape       3   0 square, 1 ellipse, 2 heart
//   scale       6   0.5, 0.6, ..., 1.0 (relative size)
//   orientation 40  k * 2*pi/40 radians, counter-clockwise (dSprites spaces 40 values over
//                   [0, 2*pi] inclusive, repeating 0; these are 40 distinct angles)
//   x, y        32  positions 0..31 mapped evenly across the image, kept inside the frame
// Image index i enumerates the combinations in that order, y fastest, like dSprites.
// Pixels are 0 (background) or 255 (shape), one channel.
#pragma once

#include <array>
#include <cstdint>

#include "data/image_set.h"

namespace kite::data {

// splitmix64's output function (Steele, Lea and Flood 2014): a fast, well-mixed 64-bit hash.
uint64_t splitmix64(uint64_t x);

// The counter-based draw used by ShapesDataset::sample: item `counter` of the stream of
// `seed` is splitmix64(splitmix64(seed) ^ counter), a pure function of both (no state).
uint64_t hash_counter(uint64_t seed, uint64_t counter);

class ShapesDataset {
 public:
  static constexpr int kNumFactors = 5;
  using Factors = std::array<int64_t, kNumFactors>;  // shape, scale, orientation, x, y
  static constexpr Factors kFactorSizes = {3, 6, 40, 32, 32};

  explicit ShapesDataset(int64_t image_size = 64);

  int64_t image_size() const { return size_; }
  int64_t num_images() const;  // 737280

  // The factors of image `index` and back.
  Factors factors_of(int64_t index) const;
  int64_t index_of(const Factors& factors) const;

  // Draws one image (size*size bytes, 0 or 255) into `out`.
  void render(const Factors& factors, uint8_t* out) const;

  // Images first .. first+count-1 of the enumeration, with their factors.
  ImageSet generate(int64_t first, int64_t count) const;

  // `count` random factor combinations: image j is image hash_counter(seed, first + j) mod
  // num_images() of the enumeration, so any window of a seed's stream can be generated alone.
  ImageSet sample(int64_t count, uint64_t seed, int64_t first = 0) const;

  static const std::vector<std::string>& factor_names();

 private:
  ImageSet make_set(int64_t count) const;
  void render_into(ImageSet& set, int64_t slot, int64_t index) const;

  int64_t size_;
};

}  // namespace kite::data
