// CPU kernels of the factories: fill, copy with dtype conversion, random fills (see
// ops/factory_kernels.h for the contract).
#pragma once

#include "engine/generator.h"
#include "engine/tensor.h"
#include "ops/factory_kernels.h"

namespace kite::cpu {

void fill_kernel(const Tensor& dst, double value);
void copy_kernel(const Tensor& src, const Tensor& dst);
void random_kernel(const RandomParams& params, Generator& generator, const Tensor& out);

}  // namespace kite::cpu
