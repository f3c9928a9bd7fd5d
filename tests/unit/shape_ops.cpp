// Views, joins and indexing (ops/shape_ops.h): values against hand-computed results in both
// floating dtypes, storage sharing of views (a write through the base's raw data shows up in
// the view), non-contiguous inputs, a few gradients by hand, and every error message.
#include <gtest/gtest.h>

#include <numeric>

#include "ops/ops.h"

namespace kite {
namespace {

using Values = std::vector<double>;

// 0, 1, 2, ... in the given shape and dtype.
Tensor iota(const Shape& shape, DType dtype = DType::Float32) {
  std::vector<double> v(numel_of(shape));
  std::iota(v.begin(), v.end(), 0.0);
  Tensor t = Tensor::from_vector<double>(v, shape);
  return dtype == DType::Float64 ? t : to_dtype(t, dtype);
}

Tensor ints(const std::vector<int64_t>& v, const Shape& shape) {
  return Tensor::from_vector<int64_t>(v, shape);
}

Values values(const Tensor& t) { return to_double_vector(t); }

// Runs f, expects a kite::Error whose message contains every part.
template <class F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected a kite::Error containing '" << parts.front() << "'";
  } catch (const Error& e) {
    for (const std::string& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message '" << e.what() << "' lacks '" << part << "'";
  }
}

class ShapeOpsDtype : public ::testing::TestWithParam<DType> {};

TEST_P(ShapeOpsDtype, ReshapeIsAViewThatSharesStorage) {
  Tensor x = iota({2, 3}, GetParam());
  Tensor y = reshape(x, {3, -1});
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(y.dtype(), GetParam());
  EXPECT_EQ(y.storage(), x.storage());
  EXPECT_EQ(values(y), (Values{0, 1, 2, 3, 4, 5}));
  if (GetParam() == DType::Float32)
    x.data_ptr<float>()[4] = 42.0f;
  else
    x.data_ptr<double>()[4] = 42.0;
  EXPECT_EQ(values(y)[4], 42.0);
}

TEST_P(ShapeOpsDtype, ReshapeOfTransposeCopies) {
  Tensor x = iota({2, 3}, GetParam());
  Tensor t = transpose(x, 0, 1);
  EXPECT_EQ(t.storage(), x.storage());
  Tensor y = reshape(t, {6});
  EXPECT_NE(y.storage(), x.storage());
  EXPECT_TRUE(y.is_contiguous());
  EXPECT_EQ(values(y), (Values{0, 3, 1, 4, 2, 5}));
}

TEST_P(ShapeOpsDtype, PermuteTransposeValues) {
  Tensor x = iota({2, 3, 4}, GetParam());
  Tensor p = permute(x, {2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  EXPECT_EQ(p.storage(), x.storage());
  Values v = values(p);
  // p[k, i, j] = x[i, j, k] = 12 i + 4 j + k
  EXPECT_EQ(v[0 * 6 + 1 * 3 + 2], 12 + 8 + 0);
  EXPECT_EQ(v[3 * 6 + 0 * 3 + 1], 0 + 4 + 3);
  Tensor t = transpose(iota({2, 3}, GetParam()), -1, 0);
  EXPECT_EQ(values(t), (Values{0, 3, 1, 4, 2, 5}));
}

TEST_P(ShapeOpsDtype, NarrowSliceSelectValuesAndSharing) {
  Tensor x = iota({4, 5}, GetParam());
  Tensor n = narrow(x, 1, 1, 2);
  EXPECT_EQ(values(n), (Values{1, 2, 6, 7, 11, 12, 16, 17}));
  EXPECT_EQ(n.storage(), x.storage());
  EXPECT_EQ(values(narrow(x, 0, -1, 1)), (Values{15, 16, 17, 18, 19}));

  Tensor s = slice(x, 1, -4, 100, 2);  // columns 1, 3
  EXPECT_EQ(s.shape(), (Shape{4, 2}));
  EXPECT_EQ(values(s), (Values{1, 3, 6, 8, 11, 13, 16, 18}));
  EXPECT_EQ(slice(x, 0, 3, 1).shape(), (Shape{0, 5}));  // empty when end <= start

  Tensor r = select(x, 0, -2);
  EXPECT_EQ(r.shape(), (Shape{5}));
  EXPECT_EQ(values(r), (Values{10, 11, 12, 13, 14}));
  Tensor c = select(x, 1, 4);
  EXPECT_EQ(values(c), (Values{4, 9, 14, 19}));
  Tensor scalar = select(c, 0, 1);
  EXPECT_EQ(scalar.dim(), 0);
  EXPECT_EQ(scalar.item<double>(), 9.0);

  // Writes through the base show in every view.
  if (GetParam() == DType::Float32)
    x.data_ptr<float>()[9] = -1.0f;
  else
    x.data_ptr<double>()[9] = -1.0;
  EXPECT_EQ(values(c)[1], -1.0);
  EXPECT_EQ(values(s)[3], 8.0);
}

TEST_P(ShapeOpsDtype, ExpandSqueezeUnsqueeze) {
  Tensor x = iota({3, 1}, GetParam());
  Tensor e = expand(x, {2, 3, 4});
  EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
  EXPECT_EQ(e.storage(), x.storage());
  Values v = values(e);
  EXPECT_EQ(v[0 * 12 + 2 * 4 + 3], 2.0);
  EXPECT_EQ(v[1 * 12 + 1 * 4 + 0], 1.0);
  EXPECT_EQ(expand(x, {-1, 2}).shape(), (Shape{3, 2}));

  Tensor u = unsqueeze(iota({2, 3}, GetParam()), -1);
  EXPECT_EQ(u.shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(unsqueeze(u, 0).shape(), (Shape{1, 2, 3, 1}));
  EXPECT_EQ(squeeze(u, 2).shape(), (Shape{2, 3}));
  EXPECT_EQ(squeeze(iota({1, 3, 1}, GetParam())).shape(), (Shape{3}));
  EXPECT_EQ(values(squeeze(transpose(iota({1, 3}, GetParam()), 0, 1))), (Values{0, 1, 2}));
}

TEST_P(ShapeOpsDtype, ContiguousCopiesOnlyWhenNeeded) {
  Tensor x = iota({2, 3}, GetParam());
  EXPECT_TRUE(contiguous(x).is_same(x));
  Tensor c = contiguous(transpose(x, 0, 1));
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.storage(), x.storage());
  EXPECT_EQ(values(c), (Values{0, 3, 1, 4, 2, 5}));
}

TEST_P(ShapeOpsDtype, CatStackSplitChunk) {
  Tensor a = iota({2, 2}, GetParam());
  Tensor b = add(iota({2, 3}, GetParam()), 10.0);
  EXPECT_EQ(values(cat({a, b}, 1)), (Values{0, 1, 10, 11, 12, 2, 3, 13, 14, 15}));
  Tensor rows = cat({a, transpose(a, 0, 1)}, 0);  // non-contiguous input
  EXPECT_EQ(values(rows), (Values{0, 1, 2, 3, 0, 2, 1, 3}));

  Tensor s = stack({a, mul(a, 2.0)}, -1);
  EXPECT_EQ(s.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(values(s), (Values{0, 0, 1, 2, 2, 4, 3, 6}));
  EXPECT_EQ(stack({a, a}).shape(), (Shape{2, 2, 2}));

  Tensor x = iota({5, 2}, GetParam());
  std::vector<Tensor> pieces = split(x, 2, 0);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[2].shape(), (Shape{1, 2}));
  EXPECT_EQ(values(pieces[1]), (Values{4, 5, 6, 7}));
  EXPECT_EQ(pieces[1].storage(), x.storage());
  std::vector<Tensor> chunks = chunk(x, 2, 0);  // ceil(5 / 2) = 3 rows, then 2
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(values(chunks[1]), (Values{6, 7, 8, 9}));
  EXPECT_EQ(chunk(x, 2, 1)[1].shape(), (Shape{5, 1}));
}

TEST_P(ShapeOpsDtype, IndexSelectAndIndexAdd) {
  Tensor x = iota({3, 4}, GetParam());
  Tensor rows = index_select(x, 0, ints({2, 0, 2}, {3}));
  EXPECT_EQ(values(rows), (Values{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}));
  Tensor cols = index_select(transpose(x, 0, 1), 1, ints({1}, {1}));  // strided input
  EXPECT_EQ(cols.shape(), (Shape{4, 1}));
  EXPECT_EQ(values(cols), (Values{4, 5, 6, 7}));

  // Repeated indices accumulate.
  Tensor src = iota({3, 2}, GetParam());
  Tensor added = index_add({2, 2}, 0, ints({1, 0, 1}, {3}), src);
  EXPECT_EQ(values(added), (Values{2, 3, 0 + 4, 1 + 5}));
}

TEST_P(ShapeOpsDtype, GatherAndScatterAdd) {
  Tensor x = iota({2, 3}, GetParam());
  Tensor g = gather(x, 1, ints({2, 0, 1, 1}, {2, 2}));
  EXPECT_EQ(values(g), (Values{2, 0, 4, 4}));
  Tensor g0 = gather(x, 0, ints({1, 0}, {1, 2}));  // index smaller than x outside axis
  EXPECT_EQ(values(g0), (Values{3, 1}));
  Tensor gt = gather(transpose(x, 0, 1), 0, ints({1, 2}, {1, 2}));  // strided input
  EXPECT_EQ(values(gt), (Values{1, 5}));

  Tensor src = add(iota({2, 2}, GetParam()), 1.0);  // 1 2 / 3 4
  Tensor s = scatter_add({2, 3}, 1, ints({2, 2, 0, 1}, {2, 2}), src);
  EXPECT_EQ(values(s), (Values{0, 0, 3, 3, 4, 0}));
  Tensor s0 = scatter_add({3, 2}, 0, ints({2, 0, 2, 2}, {2, 2}), src);
  EXPECT_EQ(values(s0), (Values{0, 2, 0, 0, 4, 4}));
}

TEST_P(ShapeOpsDtype, PadAndCrop) {
  Tensor x = iota({2, 3}, GetParam());
  Tensor p = pad(x, {1, 2}, -1.0);
  EXPECT_EQ(p.shape(), (Shape{2, 6}));
  EXPECT_EQ(values(p), (Values{-1, 0, 1, 2, -1, -1, -1, 3, 4, 5, -1, -1}));
  Tensor q = pad(x, {-1, 0, 1, 0});  // crop one column at the front, one zero row on top
  EXPECT_EQ(q.shape(), (Shape{3, 2}));
  EXPECT_EQ(values(q), (Values{0, 0, 1, 2, 4, 5}));
  Tensor strided = pad(transpose(x, 0, 1), {0, 1});
  EXPECT_EQ(values(strided), (Values{0, 3, 0, 1, 4, 0, 2, 5, 0}));
  EXPECT_EQ(pad(x, {-2, -1}).shape(), (Shape{2, 0}));
}

TEST_P(ShapeOpsDtype, OneHot) {
  Tensor h = one_hot(ints({2, 0, 1}, {3}), 4, GetParam());
  EXPECT_EQ(h.dtype(), GetParam());
  EXPECT_EQ(h.shape(), (Shape{3, 4}));
  EXPECT_EQ(values(h), (Values{0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_FALSE(h.requires_grad());
}

INSTANTIATE_TEST_SUITE_P(BothFloatingTypes, ShapeOpsDtype,
                         ::testing::Values(DType::Float32, DType::Float64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(ShapeOps, ViewOfChunkedStridesNeedsNoCopy) {
  // x[:, :, :2] of a [2, 3, 4] tensor: axes 0 and 1 still merge (12 = 3 * 4), axis 2 does not.
  Tensor x = iota({2, 3, 4});
  Tensor n = narrow(x, 2, 0, 2);
  Tensor v = view(n, {6, 2});
  EXPECT_EQ(v.strides(), (Shape{4, 1}));
  EXPECT_EQ(v.storage(), x.storage());
  EXPECT_EQ(values(v), (Values{0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21}));
  EXPECT_EQ(values(view(n, {2, 3, 1, 2}))[11], 21.0);
  expect_error([&] { view(n, {12}); }, {"view: cannot view", "use reshape"});
  expect_error([&] { view(transpose(x, 0, 2), {24}); }, {"view", "without a copy"});
  Tensor r = reshape(n, {12});  // reshape copies instead
  EXPECT_NE(r.storage(), x.storage());
  EXPECT_EQ(values(r)[11], 21.0);
}

TEST(ShapeOps, ReshapeErrors) {
  Tensor x = iota({2, 3});
  expect_error([&] { reshape(x, {4}); }, {"reshape", "float32[2, 3]", "[4]"});
  expect_error([&] { reshape(x, {-1, -1}); }, {"reshape", "more than one -1"});
  expect_error([&] { reshape(x, {-1, 4}); }, {"reshape", "cannot infer"});
  expect_error([&] { reshape(x, {-2, 3}); }, {"reshape", "negative size"});
  expect_error([&] { flatten(x, 1, 0); }, {"flatten", "comes after"});
}

TEST(ShapeOps, AxisErrors) {
  Tensor x = iota({2, 3});
  expect_error([&] { permute(x, {0}); }, {"permute", "not a permutation"});
  expect_error([&] { permute(x, {1, 1}); }, {"permute", "appears twice"});
  expect_error([&] { permute(x, {0, 2}); }, {"permute", "axis 2 is out of range"});
  expect_error([&] { transpose(x, 0, 3); }, {"transpose", "out of range"});
  expect_error([&] { narrow(x, 1, 2, 2); }, {"narrow", "do not fit axis 1"});
  expect_error([&] { narrow(scalar_tensor(1.0), 0, 0, 1); }, {"narrow", "at least one axis"});
  expect_error([&] { slice(x, 0, 0, 2, 0); }, {"slice", "step must be positive"});
  expect_error([&] { select(x, 1, 3); }, {"select", "index 3 is out of range for axis 1"});
  expect_error([&] { select(x, -3, 0); }, {"select", "out of range"});
  expect_error(
      [&] {
        expand(x, {3, 3});
      },
      {"expand", "cannot expand float32[2, 3] on cpu to [3, 3]"});
  expect_error([&] { expand(x, {3}); }, {"expand", "fewer axes"});
  expect_error([&] { squeeze(x, 0); }, {"squeeze", "has size 2, not 1"});
  expect_error([&] { unsqueeze(x, 3); }, {"unsqueeze", "out of range"});
  expect_error([&] { split(x, 0, 1); }, {"split", "must be positive"});
  expect_error([&] { chunk(x, 0); }, {"chunk", "must be positive"});
}

TEST(ShapeOps, JoinErrors) {
  Tensor a = iota({2, 3});
  expect_error([&] { cat({}, 0); }, {"cat", "at least one tensor"});
  expect_error(
      [&] {
        cat({a, iota({2, 4})}, 0);
      },
      {"cat", "tensor 1 has shape [2, 4]", "except along axis 0"});
  expect_error(
      [&] {
        cat({a, iota({2, 3}, DType::Float64)}, 0);
      },
      {"cat", "float64[2, 3]", "dtypes differ"});
  expect_error([&] { cat({a, iota({6})}, 0); }, {"cat", "tensor 1 has shape [6]"});
  expect_error([&] { cat({scalar_tensor(1.0)}, 0); }, {"cat", "at least one axis"});
  expect_error([&] { stack({a, iota({3, 2})}); }, {"stack", "shapes must match"});
  expect_error([&] { stack({a, a}, 3); }, {"stack", "out of range"});
}

TEST(ShapeOps, IndexErrors) {
  Tensor x = iota({3, 4});
  expect_error(
      [&] {
        index_select(x, 0, ints({0, 3}, {2}));
      },
      {"index_select", "index 3 is out of range for axis 0 of size 3"});
  expect_error([&] { index_select(x, 1, ints({-1}, {1})); }, {"index_select", "index -1"});
  expect_error([&] { index_select(x, 0, iota({2})); }, {"index_select", "int64", "float32[2]"});
  expect_error([&] { index_select(x, 0, ints({0, 1}, {1, 2})); }, {"index_select", "1-D"});
  expect_error(
      [&] {
        gather(x, 1, ints({4}, {1, 1}));
      },
      {"gather", "index 4 is out of range for axis 1 of size 4"});
  expect_error([&] { gather(x, 0, ints({0, 0}, {2})); }, {"gather", "does not fit"});
  expect_error([&] { gather(x, 0, ints({0, 0, 0, 0, 0}, {1, 5})); }, {"gather", "does not fit"});
  expect_error(
      [&] {
        scatter_add({3, 4}, 0, ints({3}, {1, 1}), iota({1, 1}));
      },
      {"scatter_add", "index 3 is out of range"});
  expect_error(
      [&] {
        scatter_add({3, 4}, 0, ints({0, 1}, {1, 2}), iota({2, 1}));
      },
      {"scatter_add", "same shape"});
  expect_error(
      [&] {
        index_add({3, 4}, 0, ints({0}, {1}), iota({2, 4}));
      },
      {"index_add", "does not fit"});
  expect_error(
      [&] {
        index_add({3, 4}, 1, ints({9}, {1}), iota({3, 1}));
      },
      {"index_add", "index 9 is out of range for axis 1 of size 4"});
  expect_error(
      [&] {
        one_hot(ints({0, 3}, {2}), 3);
      },
      {"one_hot", "label 3 is out of range for 3 classes"});
  expect_error([&] { one_hot(iota({2}), 3); }, {"one_hot", "int64"});
  expect_error([&] { one_hot(ints({0}, {1}), 0); }, {"one_hot", "num_classes"});
  expect_error([&] { pad(x, {1}); }, {"pad", "even number"});
  expect_error([&] { pad(x, {1, 1, 1, 1, 1, 1}); }, {"pad", "two per axis"});
  expect_error([&] { pad(x, {-3, -2}); }, {"pad", "negative"});
}

TEST(ShapeOps, ViewGradients) {
  Tensor x = iota({2, 3}, DType::Float64).set_requires_grad(true);
  // y = sum of weights * slice; the gradient is the weights scattered back into place.
  Tensor y = select(slice(x, 1, 0, 3, 2), 0, 1);  // x[1, 0], x[1, 2]
  y.backward(Tensor::from_vector<double>({5, 7}, {2}));
  EXPECT_EQ(values(x.grad()), (Values{0, 0, 0, 5, 0, 7}));

  x.zero_grad();
  Tensor e = expand(unsqueeze(narrow(x, 1, 1, 1), 0), {4, 2, 1});  // x[:, 1] repeated 4 times
  e.backward(ones({4, 2, 1}, DType::Float64));
  EXPECT_EQ(values(x.grad()), (Values{0, 4, 0, 0, 4, 0}));

  x.zero_grad();
  Tensor r = reshape(permute(x, {1, 0}), {6});  // copies, then views
  r.backward(iota({6}, DType::Float64));
  EXPECT_EQ(values(x.grad()), (Values{0, 2, 4, 1, 3, 5}));
}

TEST(ShapeOps, JoinAndIndexGradients) {
  Tensor a = iota({2, 2}, DType::Float64).set_requires_grad(true);
  Tensor b = iota({1, 2}, DType::Float64).set_requires_grad(true);
  Tensor c = cat({a, b, a}, 0);  // [5, 2]
  c.backward(Tensor::from_vector<double>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {5, 2}));
  EXPECT_EQ(values(a.grad()), (Values{1 + 7, 2 + 8, 3 + 9, 4 + 10}));
  EXPECT_EQ(values(b.grad()), (Values{5, 6}));

  Tensor x = iota({3, 2}, DType::Float64).set_requires_grad(true);
  index_select(x, 0, ints({2, 2, 0}, {3})).backward(ones({3, 2}, DType::Float64));
  EXPECT_EQ(values(x.grad()), (Values{1, 1, 0, 0, 2, 2}));
  x.zero_grad();
  gather(x, 1, ints({1, 1, 0}, {3, 1})).backward(ones({3, 1}, DType::Float64));
  EXPECT_EQ(values(x.grad()), (Values{0, 1, 0, 1, 1, 0}));
  x.zero_grad();
  pad(x, {-1, 1}).backward(Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {3, 2}));
  EXPECT_EQ(values(x.grad()), (Values{0, 1, 0, 3, 0, 5}));
}

TEST(ShapeOps, ContiguousGradientIsIdentity) {
  Tensor x = iota({2, 3}, DType::Float64).set_requires_grad(true);
  Tensor y = contiguous(transpose(x, 0, 1));
  y.backward(iota({3, 2}, DType::Float64));
  EXPECT_EQ(values(x.grad()), (Values{0, 2, 4, 1, 3, 5}));
}

TEST(ShapeOps, LargeIndexOpsMatchLoops) {
  // Big enough to run the kernels' parallel paths.
  const int64_t rows = 300, cols = 257;
  Tensor x = iota({rows, cols}, DType::Float64);
  std::vector<int64_t> idx(rows);
  for (int64_t i = 0; i < rows; ++i) idx[i] = (i * 7) % rows;
  Tensor picked = index_select(x, 0, ints(idx, {rows}));
  Values v = values(picked);
  for (int64_t i = 0; i < rows; i += 37)
    for (int64_t j = 0; j < cols; j += 11) ASSERT_EQ(v[i * cols + j], idx[i] * cols + j);
  std::vector<int64_t> col_idx(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i) col_idx[i] = (i * 13) % cols;
  Tensor g = gather(x, 1, ints(col_idx, {rows, cols}));
  Tensor back = scatter_add({rows, cols}, 1, ints(col_idx, {rows, cols}), g);
  Values gv = values(g), bv = values(back);
  for (int64_t i = 0; i < rows; i += 29)
    for (int64_t j = 0; j < cols; j += 7)
      ASSERT_EQ(gv[i * cols + j], i * cols + col_idx[i * cols + j]);
  // Every row's gathered values scatter back onto the columns they came from.
  double expected_total = 0, total = 0;
  for (double value : gv) expected_total += value;
  for (double value : bv) total += value;
  EXPECT_EQ(total, expected_total);
}

}  // namespace
}  // namespace kite
