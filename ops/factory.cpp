// Factories: constants, ranges, random tensors, copies and conversions between dtypes and
// devices, and the in-place fill_/copy_ for no-grad code.
#include "ops/factory.h"

#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "ops/cpu/factory.h"
#include "ops/elementwise_kernels.h"
#include "ops/factory_kernels.h"

namespace kite {

DispatchStub<FillKernel> fill_stub{"fill", cpu::fill_kernel};
DispatchStub<CopyKernel> copy_stub{"copy", cpu::copy_kernel};
DispatchStub<RandomKernel> random_stub{"random", cpu::random_kernel};

namespace {

void check_defined(const Tensor& t, const char* op) {
  KITE_CHECK(t.defined(), op << ": input is an undefined tensor");
}

// A new contiguous tensor on src's device holding src's values converted to `dtype`.
Tensor copy_as(const Tensor& src, DType dtype) {
  Tensor out = Tensor::empty(src.shape(), dtype, src.device());
  if (out.numel() > 0) copy_stub.get(src.device())(src, out);
  return out;
}

Tensor random_tensor(const char* op, const Shape& shape, DType dtype, Device device,
                     Generator* generator, const RandomParams& params) {
  KITE_CHECK(is_floating(dtype),
             op << ": random tensors must be float32 or float64, got " << dtype_name(dtype));
  Tensor out = Tensor::empty(shape, dtype, device);
  Generator& gen = generator != nullptr ? *generator : default_generator();
  if (out.numel() > 0) random_stub.get(device)(params, gen, out);
  return out;
}

// Host values -> a CPU tensor of `dtype` -> `device`. Ranges are made on the host: they are
// small and made rarely, so they do not need a kernel of their own.
Tensor from_host_values(const std::vector<double>& values, DType dtype, Device device) {
  Tensor host = Tensor::from_vector(values, {static_cast<int64_t>(values.size())});
  return to_device(to_dtype(host, dtype), device);
}

void check_writable(const Tensor& dst, const char* op) {
  check_defined(dst, op);
  KITE_CHECK(!(grad_enabled() && dst.requires_grad()),
             op << ": cannot write in place into " << describe(dst)
                << ", which requires grad, while grad mode is on (do it under NoGradGuard)");
}

}  // namespace

// ---- Constants ----

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor out = Tensor::empty(shape, dtype, device);
  if (out.numel() > 0) fill_stub.get(device)(out, value);
  return out;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}
Tensor ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}

Tensor zeros_like(const Tensor& x) {
  check_defined(x, "zeros_like");
  return zeros(x.shape(), x.dtype(), x.device());
}
Tensor ones_like(const Tensor& x) {
  check_defined(x, "ones_like");
  return ones(x.shape(), x.dtype(), x.device());
}
Tensor full_like(const Tensor& x, double value) {
  check_defined(x, "full_like");
  return full(x.shape(), value, x.dtype(), x.device());
}

Tensor scalar_tensor(double value, DType dtype, Device device) {
  return full({}, value, dtype, device);
}

// ---- Ranges ----

Tensor arange(double start, double end, double step, DType dtype, Device device) {
  KITE_CHECK(
      std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
      "arange: start, end and step must be finite, got " << start << ", " << end << ", " << step);
  KITE_CHECK(step != 0.0, "arange: step must be non-zero");
  const double count = std::ceil((end - start) / step);
  KITE_CHECK(count >= 0.0 || end == start,
             "arange: the range [" << start << ", " << end << ") is empty for step " << step
                                   << " (the step's sign points away from the end)");
  std::vector<double> values(static_cast<size_t>(count > 0.0 ? count : 0.0));
  for (size_t i = 0; i < values.size(); ++i) values[i] = start + static_cast<double>(i) * step;
  return from_host_values(values, dtype, device);
}

Tensor linspace(double start, double end, int64_t steps, DType dtype, Device device) {
  KITE_CHECK(steps >= 0, "linspace: steps must be non-negative, got " << steps);
  KITE_CHECK(std::isfinite(start) && std::isfinite(end),
             "linspace: start and end must be finite, got " << start << " and " << end);
  std::vector<double> values(static_cast<size_t>(steps));
  if (steps == 1) values[0] = start;
  if (steps > 1) {
    const double step = (end - start) / static_cast<double>(steps - 1);
    // The first half counts up from start and the second half down from end, so both ends
    // are exact and the rounding is symmetric.
    for (int64_t i = 0; i < steps; ++i)
      values[i] = i < steps / 2 ? start + step * static_cast<double>(i)
                                : end - step * static_cast<double>(steps - 1 - i);
  }
  return from_host_values(values, dtype, device);
}

// ---- Random ----

Tensor rand(const Shape& shape, DType dtype, Device device, Generator* generator) {
  return random_tensor("rand", shape, dtype, device, generator, {RandomKind::Uniform, 0.0, 1.0});
}
Tensor randn(const Shape& shape, DType dtype, Device device, Generator* generator) {
  return random_tensor("randn", shape, dtype, device, generator, {RandomKind::Normal, 0.0, 1.0});
}
Tensor bernoulli(const Shape& shape, double p, DType dtype, Device device, Generator* generator) {
  KITE_CHECK(p >= 0.0 && p <= 1.0, "bernoulli: probability must lie in [0, 1], got " << p);
  return random_tensor("bernoulli", shape, dtype, device, generator,
                       {RandomKind::Bernoulli, p, 0.0});
}
Tensor rand_like(const Tensor& x, Generator* generator) {
  check_defined(x, "rand_like");
  return rand(x.shape(), x.dtype(), x.device(), generator);
}
Tensor randn_like(const Tensor& x, Generator* generator) {
  check_defined(x, "randn_like");
  return randn(x.shape(), x.dtype(), x.device(), generator);
}

// ---- Copies and conversions (differentiable) ----

Tensor to_dtype(const Tensor& x, DType dtype) {
  check_defined(x, "to_dtype");
  if (x.dtype() == dtype) return x;
  Tensor out = copy_as(x, dtype);
  // Only floating results can carry a gradient; the gradient is cast back.
  if (is_floating(dtype)) {
    autograd::record("to_dtype", {x}, out,
                     [from = x.dtype()](const Tensor& g, const BackwardContext&) {
                       return std::vector<Tensor>{to_dtype(g, from)};
                     });
  }
  return out;
}

Tensor to_device(const Tensor& x, Device device) {
  check_defined(x, "to_device");
  if (x.device() == device) return x;
  KITE_CHECK(has_backend(device.type), "to_device: cannot move "
                                           << describe(x) << " to " << device.str()
                                           << ": kite was built without CUDA");
  // Backend::copy moves raw bytes, so the source must be one dense block.
  const Tensor src = x.is_contiguous() ? x : copy_as(x, x.dtype());
  Tensor out = Tensor::empty(x.shape(), x.dtype(), device);
  const size_t nbytes = static_cast<size_t>(x.numel()) * dtype_size(x.dtype());
  if (nbytes > 0) {
    // The back end of the non-CPU side knows how to reach host memory.
    Backend& backend = backend_for(device.is_cpu() ? x.device().type : device.type);
    backend.copy(out.raw_data(), device, src.raw_data(), x.device(), nbytes);
  }
  autograd::record("to_device", {x}, out,
                   [from = x.device()](const Tensor& g, const BackwardContext&) {
                     return std::vector<Tensor>{to_device(g, from)};
                   });
  return out;
}

Tensor clone(const Tensor& x) {
  check_defined(x, "clone");
  Tensor out = copy_as(x, x.dtype());
  autograd::record("clone", {x}, out,
                   [](const Tensor& g, const BackwardContext&) { return std::vector<Tensor>{g}; });
  return out;
}

// ---- In place, no autograd ----

void fill_(const Tensor& dst, double value) {
  check_writable(dst, "fill_");
  if (dst.numel() > 0) fill_stub.get(dst.device())(dst, value);
}

void copy_(const Tensor& dst, const Tensor& src) {
  check_writable(dst, "copy_");
  check_defined(src, "copy_");
  NoGradGuard no_grad;
  const Tensor moved = to_device(src, dst.device());
  KITE_CHECK(
      broadcast_shapes(src.shape(), dst.shape(), "copy_") == dst.shape(),
      "copy_: source " << describe(src) << " cannot be broadcast to destination " << describe(dst));
  if (dst.numel() == 0) return;
  copy_stub.get(dst.device())(broadcast_view(moved, dst.shape(), "copy_"), dst);
}

}  // namespace kite
