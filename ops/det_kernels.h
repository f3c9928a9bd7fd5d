// Kernel interface for LU-based determinant and inverse (CPU here; the CUDA back end plugs in
// cuda/lu.cu, one thread per matrix running the same ops/math/lu.h; cuBLAS getrfBatched would
// be the step up for large matrices).
#pragma once

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace kite {

// a: contiguous [B, n, n]. Writes log|det| of each matrix into logabsdet ([B], may be
// undefined) and the inverse into inverse ([B, n, n], may be undefined). Throws on a
// singular matrix when the inverse is requested.
using LuFn = void (*)(const Tensor& a, const Tensor& logabsdet, const Tensor& inverse);
extern DispatchStub<LuFn> lu_stub;

}  // namespace kite
