// Matrix products (ops/linalg.h): values against hand-computed results and naive loops in
// both floating dtypes, numpy promotion and batch broadcasting, transposed and strided
// views (GEMM trans flags and the copy fallback), the folded batch path, empty sizes,
// gradients by hand, and every error message. Also the batched-GEMM plan that the CPU and
// CUDA kernels share (ops/linalg_kernels.h), checked field by field.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "ops/linalg_kernels.h"
#include "ops/ops.h"

namespace kite {
namespace {

using Values = std::vector<double>;

Tensor tensor(const Values& v, const Shape& shape, DType dtype = DType::Float64) {
  Tensor t = Tensor::from_vector<double>(v, shape);
  return dtype == DType::Float64 ? t : to_dtype(t, dtype);
}

Values values(const Tensor& t) { return to_double_vector(t); }

// Deterministic, non-trivial values.
Tensor pattern(const Shape& shape, DType dtype, double phase = 0.0) {
  Values v(numel_of(shape));
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.7 * static_cast<double>(i) + phase);
  return tensor(v, shape, dtype);
}

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

// Naive batched product of row-major [B, m, k] and [B, k, n] values.
Values naive_matmul(const Values& a, const Values& b, int64_t batch, int64_t m, int64_t k,
                    int64_t n) {
  Values c(batch * m * n, 0.0);
  for (int64_t p = 0; p < batch; ++p)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t q = 0; q < k; ++q) s += a[(p * m + i) * k + q] * b[(p * k + q) * n + j];
        c[(p * m + i) * n + j] = s;
      }
  return c;
}

void expect_close(const Values& got, const Values& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << "element " << i;
}

class LinalgDtype : public ::testing::TestWithParam<DType> {
 protected:
  DType dt() const { return GetParam(); }
  double tol() const { return dt() == DType::Float32 ? 1e-5 : 1e-12; }
};

TEST_P(LinalgDtype, Matmul2dByHand) {
  Tensor a = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, dt());
  Tensor b = tensor({1, 0, -1, 2, 0.5, 1}, {3, 2}, dt());
  Tensor c = matmul(a, b);
  EXPECT_EQ(c.shape(), (Shape{2, 2}));
  EXPECT_EQ(c.dtype(), dt());
  // [1 2 3] . columns [1 -1 0.5], [0 2 1]
  expect_close(values(c), {1 - 2 + 1.5, 0 + 4 + 3, 4 - 5 + 3, 0 + 10 + 6}, tol());
}

TEST_P(LinalgDtype, OneDimensionalPromotion) {
  Tensor a = tensor({1, 2, 3}, {3}, dt());
  Tensor m = tensor({1, 2, 3, 4, 5, 6}, {3, 2}, dt());
  Tensor left = matmul(a, m);
  EXPECT_EQ(left.shape(), (Shape{2}));
  expect_close(values(left), {1 + 6 + 15, 2 + 8 + 18}, tol());
  Tensor right = matmul(transpose(m, 0, 1), a);
  EXPECT_EQ(right.shape(), (Shape{2}));
  expect_close(values(right), {22, 28}, tol());
  Tensor d = matmul(a, a);
  EXPECT_EQ(d.dim(), 0);
  EXPECT_NEAR(d.item<double>(), 14.0, tol());
  Tensor batched = matmul(a, pattern({2, 3, 2}, dt()));  // [3] @ [2, 3, 2] -> [2, 2]
  EXPECT_EQ(batched.shape(), (Shape{2, 2}));
  Values p = values(pattern({2, 3, 2}, dt()));
  EXPECT_NEAR(values(batched)[3], 1 * p[6 + 1] + 2 * p[6 + 3] + 3 * p[6 + 5], tol());
}

TEST_P(LinalgDtype, BatchBroadcastMatchesLoops) {
  // a [2, 1, 3, 4] @ b [3, 4, 5] -> [2, 3, 3, 5]
  Tensor a = pattern({2, 1, 3, 4}, dt());
  Tensor b = pattern({3, 4, 5}, dt(), 1.0);
  Tensor c = matmul(a, b);
  EXPECT_EQ(c.shape(), (Shape{2, 3, 3, 5}));
  // Expand both to the full batch and compare with naive loops.
  Values av = values(expand(a, {2, 3, 3, 4})), bv = values(expand(b, {2, 3, 4, 5}));
  expect_close(values(c), naive_matmul(av, bv, 6, 3, 4, 5), tol());
}

TEST_P(LinalgDtype, SharedRightOperandFoldsIntoOneGemm) {
  Tensor a = pattern({4, 3, 5}, dt());
  Tensor w = pattern({5, 2}, dt(), 0.3);
  Values wv = values(w), wb;
  for (int i = 0; i < 4; ++i) wb.insert(wb.end(), wv.begin(), wv.end());
  expect_close(values(matmul(a, w)), naive_matmul(values(a), wb, 4, 3, 5, 2), tol());
  // A strided batch cannot fold; the per-batch loop must agree.
  Tensor strided = slice(pattern({8, 3, 5}, dt()), 0, 0, 8, 2);
  expect_close(values(matmul(strided, w)), naive_matmul(values(strided), wb, 4, 3, 5, 2), tol());
}

TEST_P(LinalgDtype, TransposedAndStridedViews) {
  Tensor a = pattern({4, 3}, dt());
  Tensor b = pattern({5, 4}, dt(), 2.0);
  Values at = values(contiguous(transpose(a, 0, 1))), bt = values(contiguous(transpose(b, 0, 1)));
  Values want = naive_matmul(at, bt, 1, 3, 4, 5);
  expect_close(values(matmul(transpose(a, 0, 1), transpose(b, 0, 1))), want, tol());
  // Every-other-column views: neither stride is 1, so the op copies first.
  Tensor wide_a = pattern({3, 8}, dt());
  Tensor sa = slice(wide_a, 1, 0, 8, 2);
  Tensor sb = slice(pattern({4, 10}, dt(), 1.5), 1, 1, 10, 2);
  expect_close(values(matmul(sa, sb)), naive_matmul(values(sa), values(sb), 1, 3, 4, 5), tol());
  // A batched transposed view: [2, 3, 4]^T(-1, -2) -> trans flag per batch entry.
  Tensor c = pattern({2, 4, 3}, dt());
  Tensor d = pattern({2, 4, 2}, dt(), 0.5);
  Values ct = values(contiguous(transpose(c, -1, -2)));
  expect_close(values(matmul(transpose(c, -1, -2), d)), naive_matmul(ct, values(d), 2, 3, 4, 2),
               tol());
}

TEST_P(LinalgDtype, LinearWithBias) {
  Tensor x = tensor({1, 2, 3, -1, 0, 1}, {2, 3}, dt());
  Tensor w = tensor({1, 0, 1, 2, -1, 0}, {2, 3}, dt());
  Tensor b = tensor({0.5, -1}, {2}, dt());
  Tensor y = linear(x, w, b);
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  expect_close(values(y), {4 + 0.5, 0 - 1, 0 + 0.5, -2 - 1}, tol());
  expect_close(values(linear(x, w)), {4, 0, 0, -2}, tol());
  // Batched and non-contiguous input; a strided bias.
  Tensor xb = transpose(pattern({3, 4, 2}, dt()), 0, 1);  // [4, 3, 2]
  Tensor wb = pattern({5, 2}, dt(), 1.0);
  Tensor bias = slice(pattern({10}, dt(), 2.0), 0, 0, 10, 2);
  Tensor yb = linear(xb, wb, bias);
  EXPECT_EQ(yb.shape(), (Shape{4, 3, 5}));
  Tensor ref = add(matmul(xb, transpose(wb, 0, 1)), bias);
  expect_close(values(yb), values(ref), tol());
  Tensor v = linear(tensor({1, 2}, {2}, dt()), wb);
  EXPECT_EQ(v.shape(), (Shape{5}));
}

TEST_P(LinalgDtype, OuterAndDot) {
  Tensor a = tensor({1, 2}, {2}, dt());
  Tensor b = tensor({3, 4, 5}, {3}, dt());
  Tensor o = outer(a, b);
  EXPECT_EQ(o.shape(), (Shape{2, 3}));
  expect_close(values(o), {3, 4, 5, 6, 8, 10}, tol());
  EXPECT_NEAR(dot(b, slice(tensor({1, 0, 1, 0, 2, 0}, {6}, dt()), 0, 0, 6, 2)).item<double>(),
              3 + 4 + 10, tol());
}

TEST_P(LinalgDtype, EmptySizes) {
  Tensor z = matmul(Tensor::empty({2, 0}, dt()), Tensor::empty({0, 3}, dt()));
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(values(z), Values(6, 0.0));
  EXPECT_EQ(matmul(Tensor::empty({0, 4}, dt()), pattern({4, 3}, dt())).shape(), (Shape{0, 3}));
  Tensor lb = linear(Tensor::empty({2, 0}, dt()), Tensor::empty({3, 0}, dt()),
                     tensor({1, 2, 3}, {3}, dt()));
  EXPECT_EQ(values(lb), (Values{1, 2, 3, 1, 2, 3}));
}

INSTANTIATE_TEST_SUITE_P(BothFloatingTypes, LinalgDtype,
                         ::testing::Values(DType::Float32, DType::Float64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Linalg, LargeBatchOfSmallMatricesMatchesLoops) {
  // Many small products: the batch runs in parallel with single-threaded GEMMs.
  Tensor a = pattern({64, 7, 9}, DType::Float64);
  Tensor b = pattern({64, 9, 5}, DType::Float64, 0.4);
  expect_close(values(matmul(a, b)), naive_matmul(values(a), values(b), 64, 7, 9, 5), 1e-12);
}

TEST(Linalg, MatmulGradientsByHand) {
  Tensor a = tensor({1, 2, 3, 4}, {2, 2}).set_requires_grad(true);
  Tensor b = tensor({0, 1, 2, -1}, {2, 2}).set_requires_grad(true);
  Tensor g = tensor({1, 0, 0, 2}, {2, 2});
  matmul(a, b).backward(g);
  // dA = g b^T = [[0, 2], [2, -2]]; dB = a^T g = [[1, 6], [2, 8]]
  EXPECT_EQ(values(a.grad()), (Values{0, 2, 2, -2}));
  EXPECT_EQ(values(b.grad()), (Values{1, 6, 2, 8}));

  // Broadcast batch: the gradient of the shared operand sums over the batch.
  Tensor x = tensor({1, 2, 3, 4}, {2, 1, 2}).set_requires_grad(true);
  Tensor w = tensor({1, 0, 0, 1}, {2, 2}).set_requires_grad(true);
  sum(matmul(x, w)).backward();
  EXPECT_EQ(values(w.grad()), (Values{4, 4, 6, 6}));
  EXPECT_EQ(values(x.grad()), (Values{1, 1, 1, 1}));

  Tensor v = tensor({1, 2}, {2}).set_requires_grad(true);
  matmul(v, v).backward();
  EXPECT_EQ(values(v.grad()), (Values{2, 4}));
}

TEST(Linalg, LinearGradientsByHand) {
  Tensor x = tensor({1, 2, 3, 4}, {2, 2}).set_requires_grad(true);
  Tensor w = tensor({1, -1, 0, 2, 1, 1}, {3, 2}).set_requires_grad(true);
  Tensor b = tensor({0, 0, 0}, {3}).set_requires_grad(true);
  sum(linear(x, w, b)).backward();
  EXPECT_EQ(values(x.grad()), (Values{2, 2, 2, 2}));        // column sums of w
  EXPECT_EQ(values(w.grad()), (Values{4, 6, 4, 6, 4, 6}));  // column sums of x
  EXPECT_EQ(values(b.grad()), (Values{2, 2, 2}));
}

// The plan both matmul kernels follow. Operands come as the kernels get them: the batch
// broadcast already expanded (stride-0 axes).
TEST(BatchedGemmPlan, LinearLayerFoldsTheBatchIntoOneGemm) {
  // x [4, 3, 5] @ W^T, W [6, 5]: W^T is W's memory read transposed, shared by the batch.
  Tensor x = Tensor::empty({4, 3, 5});
  Tensor w_t = expand(transpose(Tensor::empty({6, 5}), 0, 1), {4, 5, 6});
  const BatchedGemmPlan plan = plan_batched_gemm(x, w_t, Tensor::empty({4, 3, 6}));
  EXPECT_TRUE(plan.folded);
  EXPECT_FALSE(plan.a.transposed);
  EXPECT_EQ(plan.a.ld, 5);
  EXPECT_TRUE(plan.b.transposed);
  EXPECT_EQ(plan.b.ld, 5);
  EXPECT_TRUE(plan.a_offsets.empty());
}

TEST(BatchedGemmPlan, IndependentMatricesGetOneGemmEach) {
  // [2, 3, 4, 5] @ [2, 3, 5, 6]: B differs per entry, so no folding; evenly spaced entries.
  Tensor a = Tensor::empty({2, 3, 4, 5}), b = Tensor::empty({2, 3, 5, 6});
  const BatchedGemmPlan plan = plan_batched_gemm(a, b, Tensor::empty({2, 3, 4, 6}));
  EXPECT_FALSE(plan.folded);
  EXPECT_EQ(plan.a_offsets, (std::vector<int64_t>{0, 20, 40, 60, 80, 100}));
  EXPECT_EQ(plan.b_offsets, (std::vector<int64_t>{0, 30, 60, 90, 120, 150}));
  EXPECT_EQ(even_step(plan.a_offsets), 20);
  EXPECT_EQ(even_step(plan.b_offsets), 30);
}

TEST(BatchedGemmPlan, TransposedOrBroadcastOperandsDoNotFold) {
  // A transposed per entry cannot stack its rows; a broadcast B repeats offset 0 (step 0).
  Tensor a = transpose(Tensor::empty({4, 5, 3}), 1, 2);  // [4, 3, 5], strides [15, 1, 3]
  Tensor b = expand(Tensor::empty({5, 2}), {4, 5, 2});
  const BatchedGemmPlan plan = plan_batched_gemm(a, b, Tensor::empty({4, 3, 2}));
  EXPECT_FALSE(plan.folded);
  EXPECT_TRUE(plan.a.transposed);
  EXPECT_EQ(plan.a.ld, 3);
  EXPECT_EQ(plan.b_offsets, (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(even_step(plan.a_offsets), 15);
  EXPECT_EQ(even_step(plan.b_offsets), 0);
  // A batch of one is always a single GEMM.
  EXPECT_TRUE(
      plan_batched_gemm(narrow(a, 0, 0, 1), narrow(b, 0, 0, 1), Tensor::empty({1, 3, 2})).folded);
}

TEST(BatchedGemmPlan, UnevenBatchLayoutsHaveNoStep) {
  // Batch axes swapped: entries sit at 0, 2, 4, 1, 3, 5 matrices.
  Tensor a = permute(Tensor::empty({3, 2, 4, 5}), {1, 0, 2, 3});
  Tensor b = Tensor::empty({2, 3, 5, 6});
  const BatchedGemmPlan plan = plan_batched_gemm(a, b, Tensor::empty({2, 3, 4, 6}));
  EXPECT_EQ(plan.a_offsets, (std::vector<int64_t>{0, 40, 80, 20, 60, 100}));
  EXPECT_EQ(even_step(plan.a_offsets), std::nullopt);
  EXPECT_EQ(even_step({7}), 0);
}

TEST(BatchedGemmPlan, RefusesOperandsThatNeedACopy) {
  // A stride-0 row axis is neither a row-major nor a transposed matrix.
  Tensor a = expand(Tensor::empty({1, 5}), {3, 5});
  expect_error(
      [&] {
        plan_batched_gemm(a, Tensor::empty({5, 2}), Tensor::empty({3, 2}));
      },
      {"matmul", "not GEMM-compatible", "strides [0, 1]"});
}

TEST(Linalg, Errors) {
  Tensor a = Tensor::empty({2, 3}), b = Tensor::empty({4, 5});
  expect_error([&] { matmul(a, b); }, {"matmul: [2, 3] @ [4, 5]: inner dimensions 3 and 4 differ"});
  expect_error(
      [&] {
        matmul(Tensor::empty({2, 2, 3}), Tensor::empty({3, 3, 2}));
      },
      {"matmul", "batch dimensions [2] and [3] cannot be broadcast"});
  expect_error(
      [&] {
        matmul(a, Tensor::empty({3, 2}, DType::Float64));
      },
      {"matmul", "dtypes differ", "float32[2, 3]", "float64[3, 2]"});
  expect_error([&] { matmul(Tensor::empty({}), a); }, {"matmul", "at least one dimension"});
  expect_error([&] { matmul(Tensor::empty({3}, DType::Int64), Tensor::empty({3}, DType::Int64)); },
               {"matmul", "floating"});
  expect_error([&] { matmul(Tensor::empty({3}), Tensor::empty({4})); },
               {"matmul: [3] @ [4]: inner dimensions 3 and 4 differ"});
  expect_error(
      [&] {
        linear(a, Tensor::empty({5, 4}));
      },
      {"linear", "has 3 features", "expects 4"});
  expect_error([&] { linear(a, Tensor::empty({5})); }, {"linear", "weight must be 2-D"});
  expect_error(
      [&] {
        linear(a, Tensor::empty({5, 3}), Tensor::empty({4}));
      },
      {"linear", "bias must be [5]"});
  expect_error(
      [&] {
        linear(Tensor::empty({}), Tensor::empty({5, 3}));
      },
      {"linear", "at least one dimension"});
  expect_error([&] { outer(a, Tensor::empty({3})); }, {"outer", "1-D"});
  expect_error([&] { dot(Tensor::empty({3}), Tensor::empty({4})); },
               {"dot", "sizes 3 and 4 differ"});
  expect_error([&] { dot(Tensor::empty({3}), Tensor::empty({3}, DType::Float64)); },
               {"dot", "dtypes differ"});
}

}  // namespace
}  // namespace kite
