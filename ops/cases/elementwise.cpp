// Gradient-check rows for the elementwise ops (ops/elementwise.h): every differentiable op,
// same-shape, broadcast ([3,1] x [1,4], [5] x [2,5]), 0-d and size-1 inputs. Domains keep
// inputs away from kinks (abs, clamp's bounds are rarely hit by normal samples) and outside
// invalid regions (log, sqrt, pow's base). Every backward here is written in differentiable
// ops, so every row also checks second order.
#include "ops/elementwise.h"
#include "ops/cases/op_cases.h"

namespace kite {
namespace {

using Inputs = std::vector<Tensor>;
using D = InputDomain;

struct Pair {
  const char* label;
  Shape a, b;
};
// Shape pairs every binary op is checked on.
const Pair kPairs[] = {
    {"same", {2, 3}, {2, 3}},   {"outer", {3, 1}, {1, 4}}, {"rows", {5}, {2, 5}},
    {"scalar_rhs", {2, 3}, {}}, {"scalar_lhs", {}, {4}},   {"size1", {1, 1}, {2, 1}},
};

void add_binary(std::vector<OpCase>& rows, const std::string& op, D da, D db,
                Tensor (*fn)(const Tensor&, const Tensor&)) {
  for (const Pair& p : kPairs) {
    rows.push_back({op,
                    op + "/" + p.label,
                    {{p.a, da}, {p.b, db}},
                    [fn](const Inputs& x) { return fn(x[0], x[1]); },
                    true});
  }
}

void add_unary(std::vector<OpCase>& rows, const std::string& op, const std::string& label, D d,
               std::function<Tensor(const Tensor&)> fn) {
  for (Shape shape : {Shape{2, 3}, Shape{}, Shape{1, 4}}) {
    rows.push_back({op,
                    op + "/" + label + shape_str(shape),
                    {{shape, d}},
                    [fn](const Inputs& x) { return fn(x[0]); },
                    true});
  }
}

Tensor add_tt(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor sub_tt(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor mul_tt(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor div_tt(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor pow_tt(const Tensor& a, const Tensor& b) { return pow(a, b); }

}  // namespace

std::vector<OpCase> elementwise_op_cases() {
  std::vector<OpCase> rows;
  add_binary(rows, "add", D::Any, D::Any, add_tt);
  add_binary(rows, "sub", D::Any, D::Any, sub_tt);
  add_binary(rows, "mul", D::Any, D::Any, mul_tt);
  add_binary(rows, "div", D::Any, D::AwayFromZero, div_tt);
  add_binary(rows, "pow", D::Positive, D::Any, pow_tt);
  // Random normal inputs are never within the finite-difference step of a tie.
  add_binary(rows, "maximum", D::Any, D::Any, maximum);
  add_binary(rows, "minimum", D::Any, D::Any, minimum);

  add_unary(rows, "add", "scalar", D::Any, [](const Tensor& x) { return add(x, 2.5); });
  add_unary(rows, "sub", "scalar", D::Any, [](const Tensor& x) { return sub(x, 1.5); });
  add_unary(rows, "rsub", "scalar", D::Any, [](const Tensor& x) { return rsub(2.0, x); });
  add_unary(rows, "mul", "scalar", D::Any, [](const Tensor& x) { return mul(x, -1.5); });
  add_unary(rows, "div", "scalar", D::Any, [](const Tensor& x) { return div(x, 4.0); });
  add_unary(rows, "rdiv", "scalar", D::AwayFromZero, [](const Tensor& x) { return rdiv(3.0, x); });
  add_unary(rows, "pow", "cube", D::Any, [](const Tensor& x) { return pow(x, 3.0); });
  add_unary(rows, "pow", "sqrt", D::Positive, [](const Tensor& x) { return pow(x, 0.5); });
  add_unary(rows, "pow", "negative", D::Positive, [](const Tensor& x) { return pow(x, -1.5); });
  add_unary(rows, "pow", "zero", D::Any, [](const Tensor& x) { return pow(x, 0.0); });
  add_unary(rows, "neg", "", D::Any, [](const Tensor& x) { return neg(x); });
  add_unary(rows, "exp", "", D::Any, [](const Tensor& x) { return exp(x); });
  add_unary(rows, "log", "", D::Positive, [](const Tensor& x) { return log(x); });
  add_unary(rows, "log1p", "", D::Positive, [](const Tensor& x) { return log1p(x); });
  add_unary(rows, "sqrt", "", D::Positive, [](const Tensor& x) { return sqrt(x); });
  add_unary(rows, "rsqrt", "", D::Positive, [](const Tensor& x) { return rsqrt(x); });
  add_unary(rows, "abs", "", D::AwayFromZero, [](const Tensor& x) { return abs(x); });
  add_unary(rows, "square", "", D::Any, [](const Tensor& x) { return square(x); });
  add_unary(rows, "clamp", "", D::Any, [](const Tensor& x) { return clamp(x, -0.7, 0.6); });

  // where with a fixed 0/1 mask (the mask carries no gradient), broadcast three ways.
  rows.push_back({"where",
                  "where/broadcast",
                  {{{3, 4}}, {{4}}},
                  [](const Inputs& x) {
                    Tensor cond = constant_like({1, 0, 1}, {3, 1}, x[0]);
                    return where(cond, x[0], x[1]);
                  },
                  true});
  rows.push_back({"where",
                  "where/same",
                  {{{2, 3}}, {{2, 3}}},
                  [](const Inputs& x) {
                    Tensor cond = constant_like({1, 0, 0, 1, 1, 0}, {2, 3}, x[0]);
                    return where(cond, x[0], x[1]);
                  },
                  true});
  return rows;
}

}  // namespace kite
