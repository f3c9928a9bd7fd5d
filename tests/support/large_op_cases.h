// Op rows at the sizes where the CUDA kernels take the paths that the op table's small rows
// (ops/cases, sized for finite differences) never reach: reductions cut into pieces and
// combined in a second pass, normalisation groups large enough for 1024-thread blocks, LU
// matrices past the shared-memory kernel's limit, convolutions whose im2col matrices are
// split into chunks of images, and the direct convolution kernels at a real layer's size.
// The GPU parity test (tests/gpu/cuda_large_shapes.cpp) runs them against the CPU; the
// stand-in device (tests/unit/host_device.cpp) runs them in CI, so that the rows themselves
// are known to work before a GPU sees them.
#pragma once

#include <vector>

#include "ops/cases/op_cases.h"

namespace kite::test_support {

std::vector<OpCase> large_op_cases();

}  // namespace kite::test_support
