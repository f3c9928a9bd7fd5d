// Synthetic shapes in the style of dSprites.
#include "data/shapes.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/error.h"

namespace kite::data {

namespace {

// The largest shape's half-extent as a fraction of the image side (scale 1.0).
constexpr double kHalfExtent = 0.16;

// Each test takes shape-local coordinates (u right, v up), in which the shape's
// half-extent is 1.
bool inside_square(double u, double v) { return std::abs(u) <= 1.0 && std::abs(v) <= 1.0; }

bool inside_ellipse(double u, double v) { return u * u + 4.0 * v * v <= 1.0; }  // axes 1, 1/2

bool inside_heart(double u, double v) {
  // The classic heart curve (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0 spans x in [-1.14, 1.14] and
  // y in [-1, 1.24]; the affine map centres it and fits it within the unit half-extent.
  const double x = 1.2 * u, y = 1.2 * v + 0.12;
  const double r = x * x + y * y - 1.0;
  return r * r * r - x * x * y * y * y <= 0.0;
}

}  // namespace

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t hash_counter(uint64_t seed, uint64_t counter) {
  return splitmix64(splitmix64(seed) ^ counter);
}

ShapesDataset::ShapesDataset(int64_t image_size) : size_(image_size) {
  KITE_CHECK(image_size >= 8, "ShapesDataset: image size " << image_size << " is below 8 pixels");
}

int64_t ShapesDataset::num_images() const {
  int64_t total = 1;
  for (int64_t size : kFactorSizes) total *= size;
  return total;
}

ShapesDataset::Factors ShapesDataset::factors_of(int64_t index) const {
  KITE_CHECK(index >= 0 && index < num_images(),
             "ShapesDataset: image index " << index << " outside [0, " << num_images() << ")");
  Factors factors{};
  for (int f = kNumFactors - 1; f >= 0; --f) {
    factors[f] = index % kFactorSizes[f];
    index /= kFactorSizes[f];
  }
  return factors;
}

int64_t ShapesDataset::index_of(const Factors& factors) const {
  int64_t index = 0;
  for (int f = 0; f < kNumFactors; ++f) {
    KITE_CHECK(factors[f] >= 0 && factors[f] < kFactorSizes[f],
               "ShapesDataset: factor " << factor_names()[f] << " = " << factors[f]
                                        << " outside [0, " << kFactorSizes[f] << ")");
    index = index * kFactorSizes[f] + factors[f];
  }
  return index;
}

void ShapesDataset::render(const Factors& factors, uint8_t* out) const {
  index_of(factors);  // validates the factors
  const double size = static_cast<double>(size_);
  const double half_extent = kHalfExtent * size * (0.5 + 0.1 * factors[1]);
  const double angle = 2.0 * std::numbers::pi * factors[2] / kFactorSizes[2];
  // The rotated square's corner reaches sqrt(2) half-extents: keep the largest in frame.
  const double margin = kHalfExtent * size * std::numbers::sqrt2 + 1.0;
  const double centre_x = margin + (size - 2 * margin) * factors[3] / (kFactorSizes[3] - 1);
  const double centre_y = margin + (size - 2 * margin) * factors[4] / (kFactorSizes[4] - 1);
  const double cos_a = std::cos(angle), sin_a = std::sin(angle);

  std::fill(out, out + size_ * size_, uint8_t{0});
  const double reach = half_extent * std::numbers::sqrt2 + 1.0;
  const int64_t y0 = std::max<int64_t>(0, static_cast<int64_t>(centre_y - reach));
  const int64_t y1 = std::min<int64_t>(size_ - 1, static_cast<int64_t>(centre_y + reach));
  const int64_t x0 = std::max<int64_t>(0, static_cast<int64_t>(centre_x - reach));
  const int64_t x1 = std::min<int64_t>(size_ - 1, static_cast<int64_t>(centre_x + reach));
  for (int64_t py = y0; py <= y1; ++py) {
    for (int64_t px = x0; px <= x1; ++px) {
      // Pixel centre relative to the shape centre, y flipped to point up, then rotated
      // by -angle into the shape's own frame.
      const double dx = (px + 0.5 - centre_x) / half_extent;
      const double dy = (centre_y - (py + 0.5)) / half_extent;
      const double u = cos_a * dx + sin_a * dy;
      const double v = -sin_a * dx + cos_a * dy;
      const bool inside = factors[0] == 0   ? inside_square(u, v)
                          : factors[0] == 1 ? inside_ellipse(u, v)
                                            : inside_heart(u, v);
      if (inside) out[py * size_ + px] = 255;
    }
  }
}

ImageSet ShapesDataset::make_set(int64_t count) const {
  KITE_CHECK(count > 0, "ShapesDataset: image count " << count << " must be positive");
  ImageSet set;
  set.n = count;
  set.c = 1;
  set.h = size_;
  set.w = size_;
  set.pixels.resize(count * size_ * size_);
  set.factors.resize(count * kNumFactors);
  set.factor_names = factor_names();
  return set;
}

void ShapesDataset::render_into(ImageSet& set, int64_t slot, int64_t index) const {
  const Factors factors = factors_of(index);
  std::copy(factors.begin(), factors.end(), set.factors.begin() + slot * kNumFactors);
  render(factors, set.pixels.data() + slot * size_ * size_);
}

ImageSet ShapesDataset::generate(int64_t first, int64_t count) const {
  KITE_CHECK(first >= 0 && count >= 0 && first + count <= num_images(),
             "ShapesDataset::generate: images [" << first << ", " << first + count
                                                 << ") outside [0, " << num_images() << ")");
  ImageSet set = make_set(count);
#pragma omp parallel for if (count >= 64)  // threads cost more than tiny batches
  for (int64_t j = 0; j < count; ++j) render_into(set, j, first + j);
  return set;
}

ImageSet ShapesDataset::sample(int64_t count, uint64_t seed, int64_t first) const {
  KITE_CHECK(first >= 0, "ShapesDataset::sample: first " << first << " must not be negative");
  ImageSet set = make_set(count);
  const uint64_t total = static_cast<uint64_t>(num_images());
#pragma omp parallel for if (count >= 64)  // threads cost more than tiny batches
  for (int64_t j = 0; j < count; ++j) {
    // The modulo bias is below total / 2^64, about 4e-14.
    render_into(set, j, static_cast<int64_t>(hash_counter(seed, first + j) % total));
  }
  return set;
}

const std::vector<std::string>& ShapesDataset::factor_names() {
  static const std::vector<std::string> names = {"shape", "scale", "orientation", "x", "y"};
  return names;
}

}  // namespace kite::data
