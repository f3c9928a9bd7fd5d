// Making tensors: constants, ranges, random tensors, copies, and moving between dtypes
// and devices. to_dtype, to_device and clone are differentiable; the in-place fill_ and
// copy_ are for no-grad code (optimizers, running statistics, data loading).
#pragma once

#include "engine/generator.h"
#include "engine/tensor.h"

namespace kite {

Tensor zeros(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
Tensor full(const Shape& shape, double value, DType dtype = DType::Float32,
            Device device = Device::cpu());
Tensor zeros_like(const Tensor& x);
Tensor ones_like(const Tensor& x);
Tensor full_like(const Tensor& x, double value);
// A 0-d tensor holding value.
Tensor scalar_tensor(double value, DType dtype = DType::Float32, Device device = Device::cpu());

// [start, end) in steps; linspace includes both ends.
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::Float32,
              Device device = Device::cpu());
Tensor linspace(double start, double end, int64_t steps, DType dtype = DType::Float32,
                Device device = Device::cpu());

// Random tensors from a Philox generator (the process default when none is given).
Tensor rand(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu(),
            Generator* generator = nullptr);  // uniform on (0, 1]
Tensor randn(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu(),
             Generator* generator = nullptr);
Tensor bernoulli(const Shape& shape, double p, DType dtype = DType::Float32,
                 Device device = Device::cpu(), Generator* generator = nullptr);
Tensor rand_like(const Tensor& x, Generator* generator = nullptr);
Tensor randn_like(const Tensor& x, Generator* generator = nullptr);

Tensor to_dtype(const Tensor& x, DType dtype);     // x itself when the dtype matches
Tensor to_device(const Tensor& x, Device device);  // x itself when the device matches
Tensor clone(const Tensor& x);                     // contiguous copy

// In place, no autograd: refuse tensors that require grad while grad mode is on.
void fill_(const Tensor& dst, double value);
void copy_(const Tensor& dst, const Tensor& src);  // src broadcast to dst's shape, dtype converted

}  // namespace kite
