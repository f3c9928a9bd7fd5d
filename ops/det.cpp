// logabsdet and inverse: forwards through the LU kernel, backwards as matrix formulas in ops.
#include "ops/det.h"

#include "engine/autograd.h"
#include "ops/cpu/lu.h"
#include "ops/det_kernels.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/shape_ops.h"

namespace kite {

DispatchStub<LuFn> lu_stub{"lu", cpu::lu_kernel};

namespace {

// Validates [..., n, n] and returns the batch shape [...] and n.
void check_square(const char* op, const Tensor& a, Shape& batch_shape, int64_t& n) {
  KITE_CHECK(is_floating(a.dtype()), op << ": expected a floating tensor, got " << describe(a));
  KITE_CHECK(a.dim() >= 2 && a.size(-1) == a.size(-2),
             op << ": expected square matrices [..., n, n], got " << describe(a));
  batch_shape.assign(a.shape().begin(), a.shape().end() - 2);
  n = a.size(-1);
}

}  // namespace

Tensor logabsdet(const Tensor& a) {
  Shape batch_shape;
  int64_t n;
  check_square("logabsdet", a, batch_shape, n);
  const int64_t batch = numel_of(batch_shape);
  Tensor flat = contiguous(reshape(a.detach(), {batch, n, n}));
  Tensor out = Tensor::empty({batch}, a.dtype(), a.device());
  lu_stub.get(a.device())(flat, out, Tensor());
  out = out.as_strided(batch_shape, contiguous_strides(batch_shape), 0);
  autograd::record("logabsdet", {a}, out, [a](const Tensor& g, const BackwardContext&) {
    Tensor g_matrix = unsqueeze(unsqueeze(g, -1), -1);
    return std::vector<Tensor>{g_matrix * transpose(inverse(a), -1, -2)};
  });
  return out;
}

Tensor inverse(const Tensor& a) {
  Shape batch_shape;
  int64_t n;
  check_square("inverse", a, batch_shape, n);
  const int64_t batch = numel_of(batch_shape);
  Tensor flat = contiguous(reshape(a.detach(), {batch, n, n}));
  Tensor out = Tensor::empty({batch, n, n}, a.dtype(), a.device());
  lu_stub.get(a.device())(flat, Tensor(), out);
  out = out.as_strided(a.shape(), contiguous_strides(a.shape()), 0);
  autograd::record(
      "inverse", {a}, out,
      [](const Tensor& g, const BackwardContext& ctx) {
        Tensor inv_t = transpose(ctx.output(), -1, -2);
        return std::vector<Tensor>{-matmul(matmul(inv_t, g), inv_t)};
      },
      autograd::SaveOutput::Yes);
  return out;
}

}  // namespace kite
