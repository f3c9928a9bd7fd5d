// Gradient-check rows for the matrix products (ops/linalg.h): plain, 1-D promotion on
// either side, batch broadcasting in both directions, a batch sharing one right operand (the
// folded single-GEMM path), transposed views (GEMM trans flags), linear with and without
// bias. matmul is bilinear, so its second-order check differentiates the backward products.
#include "ops/linalg.h"
#include "ops/cases/op_cases.h"
#include "ops/shape_ops.h"

namespace kite {
namespace {

using Inputs = std::vector<Tensor>;

struct MatmulShapes {
  const char* label;
  Shape a, b;
};
const MatmulShapes kMatmul[] = {
    {"2d", {2, 3}, {3, 4}},
    {"vector_left", {3}, {3, 2}},
    {"vector_right", {2, 3}, {3}},
    {"dot", {4}, {4}},
    {"batch_shared_right", {2, 2, 3}, {3, 2}},
    {"batch_shared_left", {2, 3}, {2, 3, 2}},
    {"batch_broadcast", {2, 1, 2, 3}, {3, 3, 2}},
    {"vector_batched", {3}, {2, 3, 2}},
};

}  // namespace

std::vector<OpCase> linalg_op_cases() {
  std::vector<OpCase> rows;
  for (const MatmulShapes& s : kMatmul)
    rows.push_back({"matmul",
                    std::string("matmul/") + s.label,
                    {{s.a}, {s.b}},
                    [](const Inputs& x) { return matmul(x[0], x[1]); },
                    true});
  rows.push_back(
      {"matmul",
       "matmul/transposed_views",
       {{{3, 2}}, {{4, 3}}},
       [](const Inputs& x) { return matmul(transpose(x[0], 0, 1), transpose(x[1], 0, 1)); },
       true});
  rows.push_back({"matmul",
                  "matmul/self",
                  {{{3, 3}}},
                  [](const Inputs& x) { return matmul(x[0], x[0]); },
                  true});

  rows.push_back({"linear",
                  "linear/bias",
                  {{{4, 3}}, {{2, 3}}, {{2}}},
                  [](const Inputs& x) { return linear(x[0], x[1], x[2]); },
                  true});
  rows.push_back({"linear",
                  "linear/batched_no_bias",
                  {{{2, 2, 3}}, {{2, 3}}},
                  [](const Inputs& x) { return linear(x[0], x[1]); },
                  true});
  rows.push_back({"linear",
                  "linear/vector_input",
                  {{{3}}, {{2, 3}}, {{2}}},
                  [](const Inputs& x) { return linear(x[0], x[1], x[2]); },
                  true});

  rows.push_back({"outer",
                  "outer/3x4",
                  {{{3}}, {{4}}},
                  [](const Inputs& x) { return outer(x[0], x[1]); },
                  true});
  rows.push_back(
      {"dot", "dot/5", {{{5}}, {{5}}}, [](const Inputs& x) { return dot(x[0], x[1]); }, true});
  return rows;
}

}  // namespace kite
