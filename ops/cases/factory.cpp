// Gradient-check rows for the differentiable factories (clone, to_dtype, to_device) and
// dropout. to_dtype is checked as a float64 -> float64 round trip through no-op conversions
// only: finite differences through float32 would measure float32 rounding, not the
// gradient (the cast-back gradient is covered by tests/unit/factory.cpp).
#include "ops/factory.h"
#include "engine/generator.h"
#include "ops/cases/op_cases.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"

namespace kite {

std::vector<OpCase> factory_op_cases() {
  using Inputs = std::vector<Tensor>;
  std::vector<OpCase> rows;
  for (Shape shape : {Shape{2, 3}, Shape{}}) {
    const std::string suffix = shape_str(shape);
    rows.push_back({"clone",
                    "clone/" + suffix,
                    {{shape}},
                    [](const Inputs& x) { return mul(clone(x[0]), x[0]); },
                    true});
    rows.push_back({"to_dtype",
                    "to_dtype/" + suffix,
                    {{shape}},
                    [](const Inputs& x) { return square(to_dtype(x[0], DType::Float64)); },
                    true});
    rows.push_back({"to_device",
                    "to_device/" + suffix,
                    {{shape}},
                    [](const Inputs& x) { return square(to_device(x[0], Device::cpu())); },
                    true});
  }
  // A generator seeded inside the function draws the same mask on every evaluation.
  rows.push_back({"dropout",
                  "dropout/p0.3",
                  {{{4, 5}}},
                  [](const Inputs& x) {
                    Generator generator(11);
                    return dropout(x[0], 0.3, true, &generator);
                  },
                  true});
  return rows;
}

}  // namespace kite
