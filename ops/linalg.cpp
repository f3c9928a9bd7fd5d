// Matrix products (see linalg.h).
//
// matmul follows numpy: a 1-D left operand becomes a row [1, k], a 1-D right operand a
// column [k, 1] (the added axis is dropped from the result), and the batch axes (all but the
// last two) broadcast. The forward builds raw views (no autograd) of the operands with the
// batch axes expanded, copies an operand only when neither of its last two strides is 1, and
// calls the batched GEMM kernel (ops/linalg_kernels.h). One node is recorded on the original
// operands, with the backward
//   dA = g @ B^T  (summed over batch axes A was broadcast along),
//   dB = A^T @ g  (likewise),
// written with matmul / transpose / sum_to so it can itself be differentiated.
//
// linear(x, W, b) flattens x to [rows, in] and runs ONE GEMM against W^T (a transposed view,
// passed to the GEMM as a trans flag) with the bias folded in as the GEMM's starting value.
#include "ops/linalg.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/cpu/matmul.h"
#include "ops/linalg_kernels.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace kite {

DispatchStub<MatmulFn> matmul_stub{"matmul", cpu::matmul_kernel};

namespace {

void check_pair(const char* op, const Tensor& a, const Tensor& b) {
  KITE_CHECK(a.defined() && b.defined(), op << ": undefined operand");
  KITE_CHECK(is_floating(a.dtype()) && is_floating(b.dtype()),
             op << ": expected floating operands, got " << describe(a) << " and " << describe(b));
  KITE_CHECK(a.dtype() == b.dtype(),
             op << ": dtypes differ: " << describe(a) << " and " << describe(b));
  KITE_CHECK(a.device() == b.device(),
             op << ": devices differ: " << describe(a) << " and " << describe(b));
}

// The operand as the kernel takes it (MatmulFn): t itself when its matrices can go to the
// GEMM as they are and there are no batch axes to broadcast (two matrices, the usual case);
// otherwise a new tensor kept in `holder` (a contiguous copy, and/or a raw view with the batch
// axes broadcast to `batch`). Handing back a reference spares the usual case even a Tensor
// copy: each copy is an atomic reference-count update, and on a GPU this is host time that a
// small product's launch cannot hide.
const Tensor& gemm_operand(const Tensor& t, const Shape& batch, Tensor& holder) {
  const Tensor* ready = &t;
  if (!matrix_layout(t).ok) {
    holder = contiguous(t.detach());
    ready = &holder;
  }
  if (batch.empty()) return *ready;
  const int64_t t_batch = ready->dim() - 2;
  const int64_t lead = static_cast<int64_t>(batch.size()) - t_batch;
  Shape shape = batch, strides(batch.size(), 0);
  for (int64_t d = lead; d < static_cast<int64_t>(batch.size()); ++d)
    if (ready->shape()[d - lead] == batch[d]) strides[d] = ready->strides()[d - lead];
  for (int64_t d = ready->dim() - 2; d < ready->dim(); ++d) {
    shape.push_back(ready->shape()[d]);
    strides.push_back(ready->strides()[d]);
  }
  holder = ready->as_strided(shape, strides, ready->offset());
  return holder;
}

Shape broadcast_batch(const Tensor& a2, const Tensor& b2, const Tensor& a, const Tensor& b) {
  const Shape a_batch(a2.shape().begin(), a2.shape().end() - 2);
  const Shape b_batch(b2.shape().begin(), b2.shape().end() - 2);
  const size_t dim = std::max(a_batch.size(), b_batch.size());
  Shape batch(dim);
  for (size_t i = 0; i < dim; ++i) {
    const int64_t sa = i < dim - a_batch.size() ? 1 : a_batch[i - (dim - a_batch.size())];
    const int64_t sb = i < dim - b_batch.size() ? 1 : b_batch[i - (dim - b_batch.size())];
    KITE_CHECK(sa == sb || sa == 1 || sb == 1,
               "matmul: " << shape_str(a.shape()) << " @ " << shape_str(b.shape())
                          << ": batch dimensions " << shape_str(a_batch) << " and "
                          << shape_str(b_batch) << " cannot be broadcast");
    batch[i] = sa == 1 ? sb : sa;
  }
  return batch;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_pair("matmul", a, b);
  KITE_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: operands need at least one dimension, got "
                                               << describe(a) << " and " << describe(b));
  // numpy promotion of 1-D operands, as raw views (a 2-D operand is used as it is).
  Tensor a_row, b_column;
  if (a.dim() == 1)
    a_row = a.as_strided({1, a.shape()[0]}, {a.shape()[0] * a.strides()[0], a.strides()[0]},
                         a.offset());
  if (b.dim() == 1) b_column = b.as_strided({b.shape()[0], 1}, {b.strides()[0], 1}, b.offset());
  const Tensor& a2 = a.dim() == 1 ? a_row : a;
  const Tensor& b2 = b.dim() == 1 ? b_column : b;
  const int64_t m = a2.shape()[a2.dim() - 2], k = a2.shape()[a2.dim() - 1];
  const int64_t k2 = b2.shape()[b2.dim() - 2], n = b2.shape()[b2.dim() - 1];
  KITE_CHECK(k == k2, "matmul: " << shape_str(a.shape()) << " @ " << shape_str(b.shape())
                                 << ": inner dimensions " << k << " and " << k2 << " differ");
  const Shape batch = broadcast_batch(a2, b2, a, b);
  Shape full_shape = batch;
  full_shape.push_back(m);
  full_shape.push_back(n);
  Tensor full = Tensor::empty(full_shape, a.dtype(), a.device());
  Tensor a_holder, b_holder;
  matmul_stub.get(a.device())(gemm_operand(a2, batch, a_holder), gemm_operand(b2, batch, b_holder),
                              /*bias=*/Tensor(), full);

  Tensor out = std::move(full);
  if (a.dim() == 1 || b.dim() == 1) {  // drop the axes that promoted 1-D operands
    Shape shape = batch;
    if (a.dim() > 1) shape.push_back(m);
    if (b.dim() > 1) shape.push_back(n);
    out = out.as_strided(shape, contiguous_strides(shape), 0);
  }
  // Asked first, unlike most ops: the formula's captures copy a and b (reference counts), which
  // the GEMM benchmark's small products on a GPU can measure; only a recorded call pays.
  if (!autograd::needs_record({a, b})) return out;
  autograd::record("matmul", {a, b}, out,
                   [a, b, full_shape](const Tensor& g, const BackwardContext& ctx) {
                     const Tensor a2 = a.dim() == 1 ? unsqueeze(a, 0) : a;
                     const Tensor b2 = b.dim() == 1 ? unsqueeze(b, 1) : b;
                     const Tensor g2 = reshape(g, full_shape);
                     Tensor ga, gb;
                     if (ctx.needs_grad(0)) {
                       ga = matmul(g2, transpose(b2, -1, -2));
                       ga = reshape(sum_to(ga, a2.shape()), a.shape());
                     }
                     if (ctx.needs_grad(1)) {
                       if (b2.dim() == 2 && a2.dim() > 2) {
                         // B shared by the whole batch: one GEMM over the stacked rows
                         // instead of a batch of products summed afterwards.
                         gb = matmul(transpose(flatten(a2, 0, -2), 0, 1), flatten(g2, 0, -2));
                       } else {
                         gb = sum_to(matmul(transpose(a2, -1, -2), g2), b2.shape());
                       }
                       gb = reshape(gb, b.shape());
                     }
                     return std::vector<Tensor>{ga, gb};
                   });
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_pair("linear", x, weight);
  KITE_CHECK(weight.dim() == 2, "linear: weight must be 2-D [out, in], got " << describe(weight));
  KITE_CHECK(x.dim() >= 1, "linear: input must have at least one dimension, got " << describe(x));
  const int64_t out_features = weight.shape()[0], in_features = weight.shape()[1];
  KITE_CHECK(x.shape().back() == in_features, "linear: input "
                                                  << describe(x) << " has " << x.shape().back()
                                                  << " features but weight " << describe(weight)
                                                  << " expects " << in_features);
  if (bias.defined()) {
    check_pair("linear", x, bias);
    KITE_CHECK(bias.dim() == 1 && bias.shape()[0] == out_features,
               "linear: bias must be [" << out_features << "] for weight " << describe(weight)
                                        << ", got " << describe(bias));
  }
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < x.dim(); ++d) rows *= x.shape()[d];

  // x as a [rows, in_features] matrix: itself when it already is one (no view to allocate,
  // not even a Tensor copy).
  Tensor x_holder;
  const Tensor* x2 = &x;
  if (!x.is_contiguous()) {
    x_holder = contiguous(x.detach());
    x2 = &x_holder;
  }
  if (x.dim() != 2 || x2->strides()[0] != in_features || x2->strides()[1] != 1) {
    x_holder = x2->as_strided({rows, in_features}, {in_features, 1}, x2->offset());
    x2 = &x_holder;
  }
  const Tensor w_t = weight.as_strided({in_features, out_features},
                                       {weight.strides()[1], weight.strides()[0]}, weight.offset());
  Tensor full = Tensor::empty({rows, out_features}, x.dtype(), x.device());
  Tensor w_holder;
  matmul_stub.get(x.device())(*x2, gemm_operand(w_t, /*batch=*/{}, w_holder), bias, full);

  Tensor out = std::move(full);  // [rows, out_features]: the output itself for a 2-D x
  if (x.dim() != 2) {
    Shape shape(x.shape().begin(), x.shape().end() - 1);
    shape.push_back(out_features);
    out = out.as_strided(shape, contiguous_strides(shape), 0);
  }
  if (!autograd::needs_record({x, weight, bias})) return out;  // as in matmul
  autograd::record(
      "linear", {x, weight, bias}, out,
      [x, weight, rows, in_features, out_features](const Tensor& g, const BackwardContext& ctx) {
        const Tensor g2 = reshape(g, {rows, out_features});
        return std::vector<Tensor>{
            ctx.needs_grad(0) ? reshape(matmul(g2, weight), x.shape()) : Tensor(),
            ctx.needs_grad(1) ? matmul(transpose(g2, 0, 1), reshape(x, {rows, in_features}))
                              : Tensor(),
            ctx.needs_grad(2) ? sum(g2, {0}) : Tensor()};
      });
  return out;
}

Tensor outer(const Tensor& a, const Tensor& b) {
  check_pair("outer", a, b);
  KITE_CHECK(a.dim() == 1 && b.dim() == 1,
             "outer: expected 1-D operands, got " << describe(a) << " and " << describe(b));
  return matmul(reshape(a, {a.shape()[0], 1}), reshape(b, {1, b.shape()[0]}));
}

Tensor dot(const Tensor& a, const Tensor& b) {
  check_pair("dot", a, b);
  KITE_CHECK(a.dim() == 1 && b.dim() == 1,
             "dot: expected 1-D operands, got " << describe(a) << " and " << describe(b));
  KITE_CHECK(a.shape()[0] == b.shape()[0],
             "dot: sizes " << a.shape()[0] << " and " << b.shape()[0] << " differ");
  return matmul(a, b);
}

}  // namespace kite
