// CPU/CUDA parity over the shared op table (ops/cases): every row runs on the CPU and on the
// GPU from the same input values; outputs and input gradients (for the same incoming
// gradient) must agree.
//   float64, contiguous and strided inputs: |gpu - cpu| <= 1e-10 * max(1, |cpu|).
//   float32, contiguous: |gpu - cpu| <= 32 * 2^-23 * sqrt(K) * max(1, max |cpu|), with K the
//     number of input elements (a bound on any reduction length): rounding differences of
//     float32 sums grow like sqrt(K), and 32 ulp cover the different libm of each device.
// A float32 row is only compared when the CPU can run it in float32. Rows build their own
// constants like their inputs (constant_like, ops/cases/op_cases.h), so that they run on CUDA
// and in float32 at all; tests/unit/op_table_float32.cpp checks the float32 half on the CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/generator.h"
#include "ops/cases/check.h"
#include "ops/ops.h"
#include "tests/gpu/gpu_test.h"

namespace kite {
namespace {

struct Run {
  Tensor output;
  std::vector<Tensor> grads;  // one per input (undefined when it has none)
  std::string error;          // what the run threw, if it did
};

// Fresh leaves holding `base`'s values, converted to `dtype` (floating inputs only) and
// moved to `device`.
std::vector<Tensor> leaves(const std::vector<Tensor>& base, DType dtype, Device device) {
  std::vector<Tensor> result;
  for (const Tensor& x : base) {
    Tensor t = x.detach();
    if (is_floating(t.dtype())) t = to_dtype(t, dtype);
    t = to_device(t, device).detach();
    if (is_floating(t.dtype())) t.set_requires_grad(true);
    result.push_back(t);
  }
  return result;
}

// The same values as x as a strided view (stride 2 in the last axis), as the gradient
// checks do; differentiable, so gradients reach the contiguous leaf.
Tensor strided_view(const Tensor& x) {
  if (x.dim() == 0 || !is_floating(x.dtype())) return x;
  return select(stack({x, x}, -1), -1, 0);
}

// Runs the case on `inputs`; when the output is differentiable, backpropagates the incoming
// gradient drawn from a fixed seed (the same values on every device and dtype).
Run run_case(const OpCase& op_case, const std::vector<Tensor>& inputs, bool strided) {
  Run run;
  try {
    std::vector<Tensor> args;
    for (const Tensor& x : inputs) args.push_back(strided ? strided_view(x) : x);
    run.output = op_case.fn(args);
    if (run.output.requires_grad()) {
      Generator generator(99);
      Tensor v = Tensor::empty(run.output.shape(), DType::Float64);
      generator.fill_normal(v.data_ptr<double>(), v.numel());
      run.output.backward(to_device(to_dtype(v, run.output.dtype()), run.output.device()));
    }
    for (const Tensor& x : inputs) run.grads.push_back(x.requires_grad() ? x.grad() : Tensor());
  } catch (const Error& e) {
    run.error = e.what();
  }
  return run;
}

// Empty when a and b agree; otherwise the first disagreements.
std::string compare(const Tensor& cpu, const Tensor& gpu, DType dtype, double k) {
  if (cpu.defined() != gpu.defined())
    return std::string("defined on ") + (cpu.defined() ? "cpu" : "cuda") + " only";
  if (!cpu.defined()) return "";
  if (cpu.shape() != gpu.shape())
    return "shapes " + shape_str(cpu.shape()) + " and " + shape_str(gpu.shape());
  if (cpu.dtype() != gpu.dtype())
    return std::string("dtypes ") + dtype_name(cpu.dtype()) + " and " + dtype_name(gpu.dtype());
  const std::vector<double> c = to_double_vector(cpu), g = to_double_vector(gpu);
  double largest = 1.0;
  for (double v : c)
    if (std::isfinite(v)) largest = std::max(largest, std::abs(v));
  std::ostringstream out;
  int reported = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    if (std::isnan(c[i]) && std::isnan(g[i])) continue;
    if (c[i] == g[i]) continue;  // also equal infinities
    const double tol = dtype == DType::Float64 ? 1e-10 * std::max(1.0, std::abs(c[i]))
                                               : 32.0 * 0x1p-23 * std::sqrt(k) * largest;
    if (std::abs(c[i] - g[i]) <= tol) continue;
    if (reported++ < 5)
      out << " [" << i << "] cpu " << c[i] << " cuda " << g[i] << " (tolerance " << tol << ")";
  }
  if (reported == 0) return "";
  out << " (" << reported << " of " << c.size() << " elements differ)";
  return out.str();
}

void check_parity(const OpCase& op_case, DType dtype, bool strided) {
  const std::string label = op_case.name + " " + dtype_name(dtype) + (strided ? " strided" : "");
  const std::vector<Tensor> base = make_case_inputs(op_case, 7);
  double k = 1.0;
  for (const Tensor& x : base) k += static_cast<double>(x.numel());

  const Run cpu = run_case(op_case, leaves(base, dtype, Device::cpu()), strided);
  if (!cpu.error.empty()) {
    // The float64 CPU run is the reference every other check relies on: it must work.
    ASSERT_NE(dtype, DType::Float64) << label << ": the CPU run failed: " << cpu.error;
    std::cout << "[ skipped  ] " << label << ": no float32 CPU reference (" << cpu.error << ")\n";
    return;
  }
  const Run gpu = run_case(op_case, leaves(base, dtype, Device::cuda(0)), strided);
  ASSERT_TRUE(gpu.error.empty()) << label << ": the CUDA run failed: " << gpu.error;
  const std::string output = compare(cpu.output, gpu.output, dtype, k);
  EXPECT_TRUE(output.empty()) << label << " output:" << output;
  for (size_t i = 0; i < cpu.grads.size(); ++i) {
    const std::string grad = compare(cpu.grads[i], gpu.grads[i], dtype, k);
    EXPECT_TRUE(grad.empty()) << label << " gradient of input " << i << ":" << grad;
  }
}

class CudaParity : public ::testing::TestWithParam<OpCase> {};

}  // namespace

// GoogleTest prints a failing row by its name instead of its bytes (found by ADL).
void PrintTo(const OpCase& op_case, std::ostream* out) { *out << op_case.name; }

namespace {

// One test per row, with its three variants inside (one process per row under ctest).
TEST_P(CudaParity, MatchesCpu) {
  KITE_REQUIRE_CUDA();
  {
    SCOPED_TRACE("float64");
    check_parity(GetParam(), DType::Float64, false);
  }
  if (GetParam().noncontiguous) {
    SCOPED_TRACE("float64 strided");
    check_parity(GetParam(), DType::Float64, true);
  }
  {
    SCOPED_TRACE("float32");
    check_parity(GetParam(), DType::Float32, false);
  }
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
