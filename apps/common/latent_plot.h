// A 2-D view of a cloud of latent codes as an RGB PNG: points coloured by class label and
// alpha-blended (dense regions saturate), over a fixed window [-range, range]^2 with circles
// of radius 1, 2, 3 (the N(0, I) contours) and the axes in grey. A fixed window makes plots
// of different models comparable: the standard normal always looks the same.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kite::apps {

struct LatentPlotOptions {
  int64_t size = 256;  // pixels per side
  double range = 4.0;  // half-width of the window in latent units
  double alpha = 0.4;  // opacity of one point
};

// xs, ys: coordinates; labels: class per point (0..9 get distinct colours; empty: black).
// Returns the fraction of points outside the window (not drawn).
double write_latent_plot(const std::string& path, const std::vector<double>& xs,
                         const std::vector<double>& ys, const std::vector<int64_t>& labels,
                         const LatentPlotOptions& options = {});

}  // namespace kite::apps
