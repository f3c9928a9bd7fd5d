// CPU/CUDA parity at the sizes where the kernels take their other paths (pieces, chunks,
// large blocks, the LU fallback, direct convolutions): tests/support/large_op_cases.h. Same
// tolerances as the op table's parity test (tests/support/op_parity.h).
#include <gtest/gtest.h>

#include "large_op_cases.h"
#include "op_parity.h"
#include "tests/gpu/gpu_test.h"

namespace kite {
namespace {

TEST(CudaLargeShapes, MatchTheCpu) {
  KITE_REQUIRE_CUDA();
  for (const OpCase& op_case : test_support::large_op_cases()) {
    SCOPED_TRACE(op_case.name);
    test_support::check_op_parity_all(op_case, Device::cuda(0));
  }
}

}  // namespace
}  // namespace kite
