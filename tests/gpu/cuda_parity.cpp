// CPU/CUDA parity over the shared op table (ops/cases): every row runs on the CPU and on the
// GPU from the same input values; outputs and input gradients must agree within the
// tolerances of tests/support/op_parity.h (float64 1e-10 relative; float32 a few ulp scaled by
// the reduction length). Rows build their own constants like their inputs (constant_like,
// ops/cases/op_cases.h), so that they run on CUDA and in float32 at all;
// tests/unit/op_table_float32.cpp checks the float32 half on the CPU, and
// tests/unit/host_device.cpp runs this same check against a host-backed stand-in device in CI.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/generator.h"
#include "op_parity.h"
#include "ops/cases/check.h"
#include "ops/ops.h"
#include "tests/gpu/gpu_test.h"

namespace kite {
namespace {

class CudaParity : public ::testing::TestWithParam<OpCase> {};

}  // namespace

// GoogleTest prints a failing row by its name instead of its bytes (found by ADL).
void PrintTo(const OpCase& op_case, std::ostream* out) { *out << op_case.name; }

namespace {

// One test per row, with its three variants inside (one process per row under ctest).
TEST_P(CudaParity, MatchesCpu) {
  KITE_REQUIRE_CUDA();
  test_support::check_op_parity_all(GetParam(), Device::cuda(0));
}

// Always listed, so that a machine without a GPU shows one visible skip instead of hundreds
// (the rows are only instantiated when a device is present).
TEST(CudaParityTable, Device) {
  KITE_REQUIRE_CUDA();
  EXPECT_FALSE(all_op_cases().empty());
}

// A bad index on the GPU is refused before any kernel uses it as an address, as on the CPU.
TEST(CudaIndexOps, OutOfRangeIndexIsAnError) {
  KITE_REQUIRE_CUDA();
  const Device gpu = Device::cuda(0);
  const Tensor data = to_device(Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {4}), gpu);
  for (int64_t bad : {int64_t{4}, int64_t{-1}}) {
    const Tensor index = to_device(Tensor::from_vector(std::vector<int64_t>{0, bad}, {2}), gpu);
    try {
      index_select(data, 0, index);
      ADD_FAILURE() << "index " << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos) << e.what();
    }
  }
  const Tensor good = to_device(Tensor::from_vector(std::vector<int64_t>{3, 0}, {2}), gpu);
  EXPECT_EQ(to_double_vector(index_select(data, 0, good)), (std::vector<double>{4, 1}));
}

std::string case_name(const ::testing::TestParamInfo<OpCase>& info) {
  std::string name = std::to_string(info.index) + "_" + info.param.name;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

// Evaluated when tests are registered (in main, after the CUDA back end has registered).
std::vector<OpCase> rows_to_check() {
  return test::cuda_device_available() ? all_op_cases() : std::vector<OpCase>{};
}

INSTANTIATE_TEST_SUITE_P(AllOps, CudaParity, ::testing::ValuesIn(rows_to_check()), case_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CudaParity);

}  // namespace
}  // namespace kite
