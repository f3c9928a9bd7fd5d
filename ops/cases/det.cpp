// Gradient-check rows for logabsdet and inverse. Inputs are shifted by 3 I so the random
// matrices are well conditioned (finite differences of a near-singular inverse are noise).
#include "ops/det.h"
#include "ops/cases/op_cases.h"
#include "ops/elementwise.h"

namespace kite {
namespace {

Tensor shifted_identity(int64_t n, double scale, const Tensor& like) {
  std::vector<double> values(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) values[i * n + i] = scale;
  return constant_like(values, {n, n}, like);
}

}  // namespace

std::vector<OpCase> det_op_cases() {
  std::vector<OpCase> cases;
  for (Shape shape : {Shape{3, 3}, Shape{2, 4, 4}}) {
    const int64_t n = shape.back();
    cases.push_back({"logabsdet",
                     "logabsdet/" + shape_str(shape),
                     {{shape}},
                     [n](const std::vector<Tensor>& x) {
                       return logabsdet(x[0] + shifted_identity(n, 3.0, x[0]));
                     },
                     true});
    cases.push_back({"inverse",
                     "inverse/" + shape_str(shape),
                     {{shape}},
                     [n](const std::vector<Tensor>& x) {
                       return inverse(x[0] + shifted_identity(n, 3.0, x[0]));
                     },
                     true});
  }
  return cases;
}

}  // namespace kite
