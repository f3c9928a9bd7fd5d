// Reductions (see reduce.h).
//
// sum, amax and amin run the kernel of ops/reduce_kernels.h over the [outer, n, inner] layout:
// a contiguous input is reduced in place, one kernel call per run of adjacent reduced axes
// (innermost run first), so reducing trailing axes, leading axes (the batch of [B, F]) or
// both (axes {0, 2, 3} of NCHW) never makes a transposed copy. A non-contiguous input is
// copied once first.
//
// Backward formulas:
//   sum      -> g reshaped to keepdim form and expanded to x's shape;
//   max/min  -> g scattered (scatter_add) to the index of the chosen element;
//   amax/amin-> through max/min over the reduced axes flattened into one, so the gradient
//               goes to the FIRST maximal element (row-major order over the reduced axes);
//               other tied elements get zero (PyTorch instead shares it evenly).
// mean, var, logsumexp and norm are compositions of public ops.
#include "ops/reduce.h"

#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/cpu/reduce.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/reduce_kernels.h"
#include "ops/shape_ops.h"

namespace kite {

DispatchStub<ReduceFn> reduce_stub{"reduce", cpu::reduce_kernel};
DispatchStub<ArgReduceFn> arg_reduce_stub{"arg_reduce", cpu::arg_reduce_kernel};

namespace {

using AxisMask = SmallVector<bool, 6>;

void check_input(const Tensor& x, const char* op, bool floating_only) {
  KITE_CHECK(x.defined(), op << ": undefined tensor");
  if (floating_only)
    KITE_CHECK(is_floating(x.dtype()),
               op << ": expected a floating tensor (float32 or float64), got " << describe(x));
  else
    KITE_CHECK(is_floating(x.dtype()) || x.dtype() == DType::Int64,
               op << ": expected a floating or int64 tensor, got " << describe(x));
}

// Which of x's axes are reduced (all of them when `axes` is empty).
AxisMask reduced_axes(const char* op, const Tensor& x, const Axes& axes) {
  AxisMask mask(x.dim(), axes.empty());
  for (int64_t axis : axes) {
    const int64_t d = normalize_axis(axis, x.dim(), op);
    if (x.dim() == 0) continue;
    KITE_CHECK(!mask[d], op << ": axis " << axis << " appears twice in " << shape_str(axes));
    mask[d] = true;
  }
  return mask;
}

Shape keepdim_shape(const Shape& shape, const AxisMask& mask) {
  Shape out = shape;
  for (size_t d = 0; d < shape.size(); ++d)
    if (mask[d]) out[d] = 1;
  return out;
}

Shape result_shape(const Shape& shape, const AxisMask& mask, bool keepdim) {
  if (keepdim) return keepdim_shape(shape, mask);
  Shape out;
  for (size_t d = 0; d < shape.size(); ++d)
    if (!mask[d]) out.push_back(shape[d]);
  return out;
}

int64_t reduced_count(const Shape& shape, const AxisMask& mask) {
  int64_t count = 1;
  for (size_t d = 0; d < shape.size(); ++d)
    if (mask[d]) count *= shape[d];
  return count;
}

void check_nonempty(const char* op, const Tensor& x, const AxisMask& mask) {
  for (int64_t d = 0; d < x.dim(); ++d)
    KITE_CHECK(!mask[d] || x.shape()[d] > 0,
               op << ": cannot reduce over axis " << d << " of size 0 of " << describe(x));
}

int64_t product(const Shape& shape, int64_t begin, int64_t end) {
  int64_t p = 1;
  for (int64_t d = begin; d < end; ++d) p *= shape[d];
  return p;
}

// Runs the reduction kernel; records nothing. The result has result_shape(...).
Tensor reduce_forward(ReduceOp op, const Tensor& x, const AxisMask& mask, bool keepdim) {
  Tensor current = x.is_contiguous() ? x : contiguous(x.detach());
  Shape shape = x.shape();
  const auto kernel = reduce_stub.get(x.device());
  bool reduced = false;
  int64_t d = x.dim() - 1;
  while (true) {
    // A run: reduced axes of size > 1, joined by any size-1 axes (those change no layout).
    while (d >= 0 && !(mask[d] && shape[d] != 1)) --d;
    if (d < 0) break;
    const int64_t end = d + 1;
    while (d >= 0 && (mask[d] || shape[d] == 1)) --d;
    const int64_t begin = d + 1;
    Shape next = shape;
    for (int64_t i = begin; i < end; ++i) next[i] = 1;
    Tensor out = Tensor::empty(next, x.dtype(), x.device());
    kernel(op, current, product(shape, 0, begin), product(shape, begin, end),
           product(shape, end, x.dim()), out);
    current = out;
    shape = next;
    reduced = true;
  }
  if (!reduced) {  // only size-1 axes reduced: the result is a copy (n = 1)
    Tensor out = Tensor::empty(shape, x.dtype(), x.device());
    kernel(op, current, x.numel(), 1, 1, out);
    current = out;
  }
  const Shape final_shape = result_shape(x.shape(), mask, keepdim);
  return current.as_strided(final_shape, contiguous_strides(final_shape), current.offset());
}

// max / min with indices over one axis; `record` false for argmax / argmin.
ValuesIndices max_min(const char* op, bool is_max, const Tensor& x, int64_t axis, bool keepdim,
                      bool record) {
  check_input(x, op, false);
  if (x.dim() == 0) {
    normalize_axis(axis, 0, op);
    ValuesIndices r = max_min(op, is_max, reshape(x, {1}), 0, false, record);
    return {reshape(r.values, {}), reshape(r.indices, {})};
  }
  const int64_t a = normalize_axis(axis, x.dim(), op);
  const int64_t n = x.shape()[a];
  KITE_CHECK(n > 0, op << ": cannot reduce over axis " << a << " of size 0 of " << describe(x));
  Tensor input = x.is_contiguous() ? x : contiguous(x.detach());
  Shape keep = x.shape();
  keep[a] = 1;
  Tensor values = Tensor::empty(keep, x.dtype(), x.device());
  Tensor indices = Tensor::empty(keep, DType::Int64, x.device());
  arg_reduce_stub.get(x.device())(is_max, input, product(x.shape(), 0, a), n,
                                  product(x.shape(), a + 1, x.dim()), values, indices);
  Shape shape = keep;
  if (!keepdim) shape.erase(shape.begin() + a);
  const Shape strides = contiguous_strides(shape);
  ValuesIndices result{values.as_strided(shape, strides, 0), indices.as_strided(shape, strides, 0)};
  if (record) {
    autograd::record(
        op, {x}, result.values,
        [in_shape = x.shape(), a, keep, indices](const Tensor& g, const BackwardContext&) {
          return std::vector<Tensor>{scatter_add(in_shape, a, indices, reshape(g, keep))};
        });
  }
  return result;
}

Tensor amax_amin(const char* op, bool is_max, const Tensor& x, const Axes& axes, bool keepdim) {
  check_input(x, op, false);
  const AxisMask mask = reduced_axes(op, x, axes);
  check_nonempty(op, x, mask);
  if (!autograd::needs_record({x}))
    return reduce_forward(is_max ? ReduceOp::Max : ReduceOp::Min, x, mask, keepdim);

  // Differentiable path: move the reduced axes last, flatten them into one, and take max/min
  // with indices over it, so the gradient reaches exactly one element per output.
  Axes order, reduced;
  Shape flat_shape;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (mask[d]) {
      reduced.push_back(d);
    } else {
      order.push_back(d);
      flat_shape.push_back(x.shape()[d]);
    }
  }
  if (reduced.size() == 1) return max_min(op, is_max, x, reduced[0], keepdim, true).values;
  order.insert(order.end(), reduced.begin(), reduced.end());
  flat_shape.push_back(reduced_count(x.shape(), mask));
  Tensor flat = reshape(permute(x, order), flat_shape);
  Tensor values = max_min(op, is_max, flat, -1, false, true).values;
  return keepdim ? reshape(values, keepdim_shape(x.shape(), mask)) : values;
}

}  // namespace

Tensor sum(const Tensor& x, const Axes& axes, bool keepdim) {
  check_input(x, "sum", false);
  const AxisMask mask = reduced_axes("sum", x, axes);
  Tensor out = reduce_forward(ReduceOp::Sum, x, mask, keepdim);
  autograd::record("sum", {x}, out,
                   [in_shape = x.shape(), keep = keepdim_shape(x.shape(), mask)](
                       const Tensor& g, const BackwardContext&) {
                     return std::vector<Tensor>{expand(reshape(g, keep), in_shape)};
                   });
  return out;
}

Tensor mean(const Tensor& x, const Axes& axes, bool keepdim) {
  check_input(x, "mean", true);
  const int64_t count = reduced_count(x.shape(), reduced_axes("mean", x, axes));
  return div(sum(x, axes, keepdim), static_cast<double>(count));
}

Tensor var(const Tensor& x, const Axes& axes, bool unbiased, bool keepdim) {
  check_input(x, "var", true);
  const int64_t count = reduced_count(x.shape(), reduced_axes("var", x, axes));
  Tensor centered = sub(x, mean(x, axes, true));
  return div(sum(square(centered), axes, keepdim), static_cast<double>(count - (unbiased ? 1 : 0)));
}

Tensor logsumexp(const Tensor& x, const Axes& axes, bool keepdim) {
  check_input(x, "logsumexp", true);
  const AxisMask mask = reduced_axes("logsumexp", x, axes);
  check_nonempty("logsumexp", x, mask);
  // Shift by the (detached) maximum so exp never overflows; the shift cancels in the value
  // and its gradient. An infinite maximum would give inf - inf, so those rows shift by 0.
  Tensor shift;
  {
    NoGradGuard no_grad;
    Tensor m = amax(x.detach(), axes, true);
    shift = where(lt(abs(m), std::numeric_limits<double>::infinity()), m, zeros_like(m));
  }
  Tensor out = add(log(sum(exp(sub(x, shift)), axes, true)), shift);
  return keepdim ? out : reshape(out, result_shape(x.shape(), mask, false));
}

Tensor norm(const Tensor& x, double p, const Axes& axes, bool keepdim) {
  check_input(x, "norm", true);
  KITE_CHECK(p > 0, "norm: p must be positive (or infinity), got " << p);
  if (std::isinf(p)) return amax(abs(x), axes, keepdim);
  if (p == 1.0) return sum(abs(x), axes, keepdim);
  if (p == 2.0) return sqrt(sum(square(x), axes, keepdim));
  return pow(sum(pow(abs(x), p), axes, keepdim), 1.0 / p);
}

Tensor amax(const Tensor& x, const Axes& axes, bool keepdim) {
  return amax_amin("amax", true, x, axes, keepdim);
}

Tensor amin(const Tensor& x, const Axes& axes, bool keepdim) {
  return amax_amin("amin", false, x, axes, keepdim);
}

ValuesIndices max(const Tensor& x, int64_t axis, bool keepdim) {
  return max_min("max", true, x, axis, keepdim, true);
}

ValuesIndices min(const Tensor& x, int64_t axis, bool keepdim) {
  return max_min("min", false, x, axis, keepdim, true);
}

Tensor argmax(const Tensor& x, int64_t axis, bool keepdim) {
  return max_min("argmax", true, x, axis, keepdim, false).indices;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  KITE_CHECK(x.defined(), "sum_to: undefined tensor");
  if (x.shape() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  KITE_CHECK(lead >= 0, "sum_to: cannot reduce " << describe(x) << " to " << shape_str(shape));
  Axes axes;
  for (int64_t d = 0; d < lead; ++d) axes.push_back(d);
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t own = x.shape()[lead + i];
    if (shape[i] == own) continue;
    KITE_CHECK(shape[i] == 1,
               "sum_to: cannot reduce " << describe(x) << " to " << shape_str(shape));
    axes.push_back(lead + static_cast<int64_t>(i));
  }
  return reshape(sum(x, axes, true), shape);
}

}  // namespace kite
