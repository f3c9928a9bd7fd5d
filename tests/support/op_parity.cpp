// The op table's CPU-versus-device parity check (see op_parity.h).
#include "op_parity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/generator.h"
#include "ops/cases/check.h"
#include "ops/ops.h"

namespace kite::test_support {
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
      out << " [" << i << "] cpu " << c[i] << " other " << g[i] << " (tolerance " << tol << ")";
  }
  if (reported == 0) return "";
  out << " (" << reported << " of " << c.size() << " elements differ)";
  return out.str();
}

}  // namespace

void check_op_parity(const OpCase& op_case, DType dtype, bool strided, Device device) {
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
  const Run gpu = run_case(op_case, leaves(base, dtype, device), strided);
  ASSERT_TRUE(gpu.error.empty()) << label << ": the " << device.str()
                                 << " run failed: " << gpu.error;
  const std::string output = compare(cpu.output, gpu.output, dtype, k);
  EXPECT_TRUE(output.empty()) << label << " output:" << output;
  for (size_t i = 0; i < cpu.grads.size(); ++i) {
    const std::string grad = compare(cpu.grads[i], gpu.grads[i], dtype, k);
    EXPECT_TRUE(grad.empty()) << label << " gradient of input " << i << ":" << grad;
  }
}

void check_op_parity_all(const OpCase& op_case, Device device) {
  {
    SCOPED_TRACE("float64");
    check_op_parity(op_case, DType::Float64, false, device);
  }
  if (op_case.noncontiguous) {
    SCOPED_TRACE("float64 strided");
    check_op_parity(op_case, DType::Float64, true, device);
  }
  {
    SCOPED_TRACE("float32");
    check_op_parity(op_case, DType::Float32, false, device);
  }
}

}  // namespace kite::test_support
