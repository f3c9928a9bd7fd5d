// Matrix products. matmul follows numpy: 1-D operands are promoted and the promoted axis
// removed; leading (batch) axes broadcast. CPU runs the engine's own GEMM (ops/cpu/gemm.h).
#pragma once

#include "engine/tensor.h"

namespace kite {

Tensor matmul(const Tensor& a, const Tensor& b);
// x W^T + b, with x [..., in], W [out, in], b [out] (bias may be undefined).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
Tensor outer(const Tensor& a, const Tensor& b);  // 1-D x 1-D -> 2-D
Tensor dot(const Tensor& a, const Tensor& b);    // 1-D . 1-D -> 0-d

}  // namespace kite
