// Gradient-check rows for views, joins and indexing (ops/shape_ops.h).
//
// These ops are linear in their input, so a plain second-order check has nothing to
// differentiate (the gradient does not depend on x). Each op therefore also appears squared,
// square(op(x)), whose gradient 2 op^T(v * op(x)) runs the op's backward on a tensor that
// depends on x: the second-order check of that row differentiates the backward op itself
// (slice_backward, index_add, scatter_add, pad with negative pads, ...).
#include "ops/cases/op_cases.h"
#include "ops/elementwise.h"
#include "ops/shape_ops.h"

namespace kite {
namespace {

using Inputs = std::vector<Tensor>;
using Fn = std::function<Tensor(const Inputs&)>;
using D = InputDomain;

// Adds op/label (first and second order) and op/label/squared (second order through the
// op's backward).
void add_case(std::vector<OpCase>& rows, const std::string& op, const std::string& label,
              std::vector<OpInput> inputs, Fn fn) {
  rows.push_back({op, op + "/" + label, inputs, fn, true});
  rows.push_back({op, op + "/" + label + "/squared", inputs,
                  [fn](const Inputs& x) { return square(fn(x)); }, true});
}

}  // namespace

std::vector<OpCase> shape_op_cases() {
  std::vector<OpCase> rows;
  add_case(rows, "reshape", "2x3_to_3x2", {{{2, 3}}}, [](const Inputs& x) {
    return reshape(x[0], {3, 2});
  });
  add_case(rows, "reshape", "infer", {{{2, 3, 2}}}, [](const Inputs& x) {
    return reshape(x[0], {-1, 2});
  });
  add_case(rows, "reshape", "of_transpose_copies", {{{2, 3}}},
           [](const Inputs& x) { return reshape(transpose(x[0], 0, 1), {6}); });
  add_case(rows, "reshape", "0d", {{Shape{}}}, [](const Inputs& x) {
    return reshape(x[0], {1, 1});
  });
  add_case(rows, "view", "merge", {{{2, 3, 2}}}, [](const Inputs& x) {
    return view(x[0], {6, 2});
  });
  add_case(rows, "flatten", "middle", {{{2, 3, 2}}},
           [](const Inputs& x) { return flatten(x[0], 1, 2); });
  add_case(rows, "permute", "3d", {{{2, 3, 4}}}, [](const Inputs& x) {
    return permute(x[0], {2, 0, 1});
  });
  add_case(rows, "transpose", "2d", {{{2, 3}}},
           [](const Inputs& x) { return transpose(x[0], 0, -1); });
  add_case(rows, "narrow", "axis0", {{{4, 3}}},
           [](const Inputs& x) { return narrow(x[0], 0, 1, 2); });
  add_case(rows, "narrow", "negative_start", {{{2, 5}}},
           [](const Inputs& x) { return narrow(x[0], -1, -3, 2); });
  add_case(rows, "slice", "step2", {{{5, 3}}},
           [](const Inputs& x) { return slice(x[0], 0, -4, 5, 2); });
  add_case(rows, "slice", "step3_last_axis", {{{2, 7}}},
           [](const Inputs& x) { return slice(x[0], 1, 0, 100, 3); });
  add_case(rows, "select", "last_axis", {{{3, 4}}},
           [](const Inputs& x) { return select(x[0], 1, -1); });
  add_case(rows, "select", "to_0d", {{{4}}}, [](const Inputs& x) { return select(x[0], 0, 2); });
  add_case(rows, "expand", "broadcast", {{{3, 1}}}, [](const Inputs& x) {
    return expand(x[0], {2, 3, 4});
  });
  add_case(rows, "expand", "0d", {{Shape{}}}, [](const Inputs& x) { return expand(x[0], {2, 2}); });
  add_case(rows, "squeeze", "axis", {{{2, 1, 3}}},
           [](const Inputs& x) { return squeeze(x[0], 1); });
  add_case(rows, "squeeze", "all", {{{1, 3, 1}}}, [](const Inputs& x) { return squeeze(x[0]); });
  add_case(rows, "unsqueeze", "last", {{{2, 3}}},
           [](const Inputs& x) { return unsqueeze(x[0], -1); });
  add_case(rows, "contiguous", "of_transpose", {{{2, 3}}},
           [](const Inputs& x) { return contiguous(transpose(x[0], 0, 1)); });

  add_case(rows, "cat", "axis0_three", {{{2, 3}}, {{1, 3}}, {{3, 3}}}, [](const Inputs& x) {
    return cat({x[0], x[1], x[2]}, 0);
  });
  add_case(rows, "cat", "last_axis", {{{2, 1}}, {{2, 3}}}, [](const Inputs& x) {
    return cat({x[0], x[1]}, -1);
  });
  add_case(rows, "cat", "same_input_twice", {{{2, 2}}}, [](const Inputs& x) {
    return cat({x[0], x[0]}, 1);
  });
  add_case(rows, "stack", "middle", {{{2, 3}}, {{2, 3}}}, [](const Inputs& x) {
    return stack({x[0], x[1]}, 1);
  });
  add_case(rows, "split", "uneven", {{{2, 5}}}, [](const Inputs& x) {
    std::vector<Tensor> pieces = split(x[0], 2, 1);  // sizes 2, 2, 1
    return cat({pieces[2], pieces[0], pieces[1]}, 1);
  });
  add_case(rows, "chunk", "rows", {{{5, 2}}}, [](const Inputs& x) {
    std::vector<Tensor> pieces = chunk(x[0], 3, 0);  // sizes 2, 2, 1
    return cat({pieces[1], pieces[2]}, 0);
  });

  add_case(rows, "index_select", "axis0_repeats", {{{5, 3}}, {{6}, D::Index, 5}},
           [](const Inputs& x) { return index_select(x[0], 0, x[1]); });
  add_case(rows, "index_select", "last_axis", {{{2, 4}}, {{3}, D::Index, 4}},
           [](const Inputs& x) { return index_select(x[0], -1, x[1]); });
  add_case(rows, "index_add", "axis0", {{{3, 2}}, {{3}, D::Index, 4}}, [](const Inputs& x) {
    return index_add({4, 2}, 0, x[1], x[0]);
  });
  add_case(rows, "gather", "axis1", {{{3, 4}}, {{3, 2}, D::Index, 4}},
           [](const Inputs& x) { return gather(x[0], 1, x[1]); });
  add_case(rows, "gather", "axis0_smaller_index", {{{4, 3}}, {{2, 2}, D::Index, 4}},
           [](const Inputs& x) { return gather(x[0], 0, x[1]); });
  add_case(rows, "gather", "0d", {{Shape{}}, {Shape{}, D::Index, 1}},
           [](const Inputs& x) { return gather(x[0], 0, x[1]); });
  add_case(rows, "scatter_add", "axis0", {{{2, 3}}, {{2, 3}, D::Index, 4}}, [](const Inputs& x) {
    return scatter_add({4, 3}, 0, x[1], x[0]);
  });
  add_case(rows, "scatter_add", "last_axis_3d", {{{2, 2, 3}}, {{2, 2, 3}, D::Index, 2}},
           [](const Inputs& x) {
             return scatter_add({2, 3, 2}, -1, x[1], x[0]);
           });

  add_case(rows, "pad", "last_axis", {{{2, 3}}}, [](const Inputs& x) {
    return pad(x[0], {1, 2}, 0.5);
  });
  add_case(rows, "pad", "crop_and_pad", {{{3, 4}}}, [](const Inputs& x) {
    return pad(x[0], {-1, 2, 1, -2});
  });
  add_case(rows, "pad", "3d_two_axes", {{{2, 2, 3}}}, [](const Inputs& x) {
    return pad(x[0], {0, 1, 2, 0});
  });
  return rows;
}

}  // namespace kite
