// The kernel interface of the factories: fill, copy (with dtype conversion) and random
// fills. The stubs are defined in ops/factory.cpp with the CPU kernels (ops/cpu/factory.h);
// a CUDA library fills the CUDA slots.
//
// The copy kernel is also how other families make a tensor contiguous (contiguous() in
// ops/shape_ops.cpp) and convert dtypes: allocate the destination, call copy_stub.
#pragma once

#include <cstdint>

#include "engine/dispatch.h"
#include "engine/generator.h"
#include "engine/tensor.h"

namespace kite {

// Sets every element of dst (any strides, any dtype) to value converted to dst's dtype.
using FillKernel = void (*)(const Tensor& dst, double value);

// dst[i] = src[i] converted to dst's dtype (static_cast; a value outside the target's range,
// like -1 into uint8, is undefined as in C++). src has dst's shape (a broadcast view with
// stride-0 axes when broadcasting), both may have any strides and any of the four dtypes,
// and both are on the same device. dst must not partially overlap src.
using CopyKernel = void (*)(const Tensor& src, const Tensor& dst);

enum class RandomKind : uint8_t {
  Uniform,    // lo + (hi - lo) u, u uniform on (0, 1]; a = lo, b = hi
  Normal,     // mean + std z, z standard normal;       a = mean, b = std
  Bernoulli,  // 1 with probability p, else 0;          a = p
};

struct RandomParams {
  RandomKind kind = RandomKind::Uniform;
  double a = 0.0;
  double b = 1.0;
};

// Fills a contiguous floating tensor from the generator's stream, advancing the generator
// exactly as Generator's fills do (engine/generator.h), so element i depends only on the
// generator state at the call and i. A CUDA kernel reserves its words with
// Generator::advance and computes the same words with engine/philox.h.
using RandomKernel = void (*)(const RandomParams& params, Generator& generator, const Tensor& out);

extern DispatchStub<FillKernel> fill_stub;
extern DispatchStub<CopyKernel> copy_stub;
extern DispatchStub<RandomKernel> random_stub;

}  // namespace kite
