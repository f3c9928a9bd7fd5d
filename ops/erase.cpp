// Random erasing (see erase.h): rectangle sampling on the host from a Generator, erasing by
// a direct fill on the CPU or by a mask on other devices.
#include "ops/erase.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/elementwise.h"
#include "ops/factory.h"

namespace kite {
namespace {

void check_options(const RandomErasingOptions& o) {
  KITE_CHECK(o.probability >= 0.0 && o.probability <= 1.0,
             "random_erase: probability must lie in [0, 1], got " << o.probability);
  KITE_CHECK(o.min_area > 0.0 && o.min_area <= o.max_area && o.max_area <= 1.0,
             "random_erase: area range [" << o.min_area << ", " << o.max_area
                                          << "] must satisfy 0 < min <= max <= 1");
  KITE_CHECK(o.min_aspect > 0.0 && o.min_aspect <= o.max_aspect,
             "random_erase: aspect range [" << o.min_aspect << ", " << o.max_aspect
                                            << "] must satisfy 0 < min <= max");
  KITE_CHECK(o.max_attempts >= 0,
             "random_erase: max_attempts must be non-negative, got " << o.max_attempts);
}

// floor(u * n) for u in (0, 1], kept inside [0, n - 1].
int64_t scaled_index(double u, int64_t n) {
  return std::min<int64_t>(n - 1, static_cast<int64_t>(std::floor(u * double(n))));
}

// The image count and plane of `images`, checked against the boxes.
struct ImageLayout {
  int64_t count, channels, height, width;
};
ImageLayout image_layout(const Tensor& images, size_t boxes) {
  KITE_CHECK(images.defined() && (images.dim() == 4 || images.dim() == 3),
             "erase_boxes: expected images [N, C, H, W] or one image [C, H, W], got "
                 << (images.defined() ? describe(images) : std::string("undefined tensor")));
  const bool batched = images.dim() == 4;
  const ImageLayout l{batched ? images.size(0) : 1, images.size(-3), images.size(-2),
                      images.size(-1)};
  KITE_CHECK(static_cast<int64_t>(boxes) == l.count, "erase_boxes: " << boxes << " boxes for "
                                                                     << l.count << " images ("
                                                                     << describe(images) << ")");
  return l;
}

void check_box(const EraseBox& b, const ImageLayout& l, size_t i) {
  KITE_CHECK(b.height >= 0 && b.width >= 0 && b.top >= 0 && b.left >= 0 &&
                 b.top + b.height <= l.height && b.left + b.width <= l.width,
             "erase_boxes: box " << i << " (top " << b.top << ", left " << b.left << ", "
                                 << b.height << "x" << b.width << ") does not fit the " << l.height
                                 << "x" << l.width << " image");
}

}  // namespace

std::vector<EraseBox> sample_erase_boxes(int64_t count, int64_t height, int64_t width,
                                         const RandomErasingOptions& options,
                                         Generator& generator) {
  check_options(options);
  KITE_CHECK(count >= 0 && height > 0 && width > 0,
             "random_erase: need a non-negative image count and a non-empty image, got "
                 << count << " images of " << height << "x" << width);
  const int64_t per_image = 1 + 4 * int64_t{options.max_attempts};
  std::vector<double> u(static_cast<size_t>(count * per_image));
  generator.fill_uniform(u.data(), static_cast<int64_t>(u.size()));

  const double area = double(height) * double(width);
  const double log_min = std::log(options.min_aspect), log_max = std::log(options.max_aspect);
  std::vector<EraseBox> boxes(count);
  for (int64_t i = 0; i < count; ++i) {
    const double* draw = u.data() + i * per_image;
    if (draw[0] > options.probability) continue;  // u in (0, 1]: p = 0 never erases, p = 1 always
    for (int a = 0; a < options.max_attempts; ++a) {
      const double* d = draw + 1 + 4 * a;
      const double target =
          area * (options.min_area + (options.max_area - options.min_area) * d[0]);
      const double aspect = std::exp(log_min + (log_max - log_min) * d[1]);
      const auto h = static_cast<int64_t>(std::lround(std::sqrt(target * aspect)));
      const auto w = static_cast<int64_t>(std::lround(std::sqrt(target / aspect)));
      if (h <= 0 || w <= 0 || h >= height || w >= width) continue;
      boxes[i] = {scaled_index(d[2], height - h + 1), scaled_index(d[3], width - w + 1), h, w};
      break;
    }
  }
  return boxes;
}

Tensor erase_boxes(const Tensor& images, const std::vector<EraseBox>& boxes, double value) {
  const ImageLayout l = image_layout(images, boxes.size());
  for (size_t i = 0; i < boxes.size(); ++i) check_box(boxes[i], l, i);
  NoGradGuard no_grad;  // data-side: the result carries no gradient
  if (images.device().is_cpu()) {
    Tensor out = clone(images);
    visit_dtype(out.dtype(), "erase_boxes", [&](auto tag) {
      using T = decltype(tag);
      T* data = out.data_ptr<T>();
      for (int64_t n = 0; n < l.count; ++n) {
        const EraseBox& b = boxes[n];
        for (int64_t c = 0; c < l.channels; ++c)
          for (int64_t h = b.top; h < b.top + b.height; ++h) {
            T* row = data + ((n * l.channels + c) * l.height + h) * l.width + b.left;
            std::fill(row, row + b.width, static_cast<T>(value));
          }
      }
    });
    return out;
  }
  // Elsewhere: a 0/1 keep-mask built on the host, one plane per image, broadcast over channels.
  KITE_CHECK(is_floating(images.dtype()), "erase_boxes: images on " << images.device().str()
                                                                    << " must be floating, got "
                                                                    << describe(images));
  std::vector<double> keep(static_cast<size_t>(l.count * l.height * l.width), 1.0);
  for (int64_t n = 0; n < l.count; ++n) {
    const EraseBox& b = boxes[n];
    for (int64_t h = b.top; h < b.top + b.height; ++h)
      std::fill_n(keep.begin() + (n * l.height + h) * l.width + b.left, b.width, 0.0);
  }
  const Shape mask_shape =
      images.dim() == 4 ? Shape{l.count, 1, l.height, l.width} : Shape{1, l.height, l.width};
  const Tensor mask =
      to_device(to_dtype(Tensor::from_vector(keep, mask_shape), images.dtype()), images.device());
  return images * mask + (1.0 - mask) * value;
}

Tensor random_erase(const Tensor& images, const RandomErasingOptions& options,
                    Generator* generator) {
  KITE_CHECK(images.defined() && (images.dim() == 4 || images.dim() == 3),
             "random_erase: expected images [N, C, H, W] or one image [C, H, W], got "
                 << (images.defined() ? describe(images) : std::string("undefined tensor")));
  const int64_t count = images.dim() == 4 ? images.size(0) : 1;
  Generator& gen = generator ? *generator : default_generator();
  return erase_boxes(images,
                     sample_erase_boxes(count, images.size(-2), images.size(-1), options, gen),
                     options.value);
}

}  // namespace kite
