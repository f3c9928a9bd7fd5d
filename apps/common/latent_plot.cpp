// 2-D latent scatter plots (see latent_plot.h).
#include "apps/common/latent_plot.h"

#include <algorithm>
#include <cmath>

#include "data/png_writer.h"
#include "engine/error.h"

namespace kite::apps {

double write_latent_plot(const std::string& path, const std::vector<double>& xs,
                         const std::vector<double>& ys, const std::vector<int64_t>& labels,
                         const LatentPlotOptions& options) {
  KITE_CHECK(xs.size() == ys.size() && (labels.empty() || labels.size() == xs.size()),
             "write_latent_plot: " << xs.size() << " x, " << ys.size() << " y, " << labels.size()
                                   << " labels");
  const int64_t s = options.size;
  // Planar RGB in [0, 1], white background.
  std::vector<double> rgb(3 * s * s, 1.0);
  auto to_pixel = [&](double v) { return (v + options.range) / (2 * options.range) * (s - 1); };
  auto blend = [&](int64_t px, int64_t py, const double* colour, double a) {
    if (px < 0 || py < 0 || px >= s || py >= s) return;
    for (int c = 0; c < 3; ++c) {
      double& v = rgb[(c * s + py) * s + px];
      v = (1 - a) * v + a * colour[c];
    }
  };
  const double grey[3] = {0.75, 0.75, 0.75};
  for (int64_t i = 0; i < s; ++i) {
    blend(i, s / 2, grey, 1.0);
    blend(s / 2, i, grey, 1.0);
  }
  for (double radius : {1.0, 2.0, 3.0})
    for (int k = 0; k < 2000; ++k) {
      const double t = 2 * M_PI * k / 2000;
      blend(std::lround(to_pixel(radius * std::cos(t))),
            s - 1 - std::lround(to_pixel(radius * std::sin(t))), grey, 1.0);
    }
  // Ten well-separated colours (the "tab10" hues).
  static const double palette[10][3] = {{0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17},
                                        {0.84, 0.15, 0.16}, {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29},
                                        {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50}, {0.74, 0.74, 0.13},
                                        {0.09, 0.75, 0.81}};
  const double black[3] = {0, 0, 0};
  int64_t outside = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double px = to_pixel(xs[i]), py = to_pixel(ys[i]);
    if (!(px >= 0 && py >= 0 && px <= s - 1 && py <= s - 1)) {
      ++outside;
      continue;
    }
    const double* colour = labels.empty() ? black : palette[((labels[i] % 10) + 10) % 10];
    // A 3x3 dot.
    const int64_t x0 = static_cast<int64_t>(px), y0 = s - 1 - static_cast<int64_t>(py);
    for (int64_t dy = -1; dy < 2; ++dy)
      for (int64_t dx = -1; dx < 2; ++dx) blend(x0 + dx, y0 - dy, colour, options.alpha);
  }
  std::vector<uint8_t> pixels(rgb.size());
  for (size_t i = 0; i < rgb.size(); ++i)
    pixels[i] = static_cast<uint8_t>(std::clamp(rgb[i], 0.0, 1.0) * 255.0 + 0.5);
  data::write_png(path, 3, s, s, pixels.data());
  return xs.empty() ? 0.0 : static_cast<double>(outside) / static_cast<double>(xs.size());
}

}  // namespace kite::apps
