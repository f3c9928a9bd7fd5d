// Helpers shared by the flow tests (flow.cpp, flow_mixture_base.cpp).
#pragma once

#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "models/flow/iresnet.h"
#include "ops/ops.h"

namespace kite::flow::test {

// Riemann sum of a 2-D flow's density over [-half_width, half_width]^2 on an n x n grid: 1
// for a normalised density whose mass lies inside the square.
inline double probability_mass_2d(IResNet& flow, double half_width, int n) {
  const double step = 2 * half_width / (n - 1);
  std::vector<double> grid;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      grid.push_back(-half_width + i * step);
      grid.push_back(-half_width + j * step);
    }
  NoGradGuard no_grad;
  double total = 0;
  for (double lp : to_double_vector(flow.log_prob(Tensor::from_vector(grid, {n * n, 2}))))
    total += std::exp(lp) * step * step;
  return total;
}

}  // namespace kite::flow::test
