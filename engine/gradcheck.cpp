// Finite-difference gradient checks (see gradcheck.h). Written against raw float64 data so
// the engine can check ops without depending on them.
#include "engine/gradcheck.h"

#include <cmath>
#include <sstream>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/generator.h"

namespace kite {
namespace {

Tensor random_like(const Tensor& t, Generator& generator) {
  Tensor out = Tensor::empty(t.shape(), DType::Float64);
  generator.fill_normal(out.data_ptr<double>(), out.numel());
  return out;
}

// sum_i v_i * y_i over every element (y may be any layout or device).
double contract(const Tensor& v, const Tensor& y) {
  KITE_CHECK(v.shape() == y.shape(), "gradcheck: function output shape changed between calls: "
                                         << shape_str(v.shape()) << " vs " << shape_str(y.shape()));
  std::vector<double> vs = to_double_vector(v), ys = to_double_vector(y);
  double total = 0.0;
  for (size_t i = 0; i < vs.size(); ++i) total += vs[i] * ys[i];
  return total;
}

void validate_inputs(const std::vector<Tensor>& inputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    KITE_CHECK(
        x.dtype() == DType::Float64 && x.device().is_cpu() && x.is_contiguous() && x.is_leaf(),
        "gradcheck: input " << i << " must be a contiguous float64 CPU leaf, got " << describe(x));
  }
}

struct Comparison {
  GradcheckResult& result;
  const GradcheckOptions& options;
  void check(const char* what, size_t input, int64_t element, double analytic, double numeric) {
    double abs_err = std::fabs(analytic - numeric);
    double rel_err = abs_err / std::max(std::fabs(numeric), 1e-12);
    result.max_abs_error = std::max(result.max_abs_error, abs_err);
    if (std::fabs(numeric) > options.atol)
      result.max_rel_error = std::max(result.max_rel_error, rel_err);
    bool finite = std::isfinite(analytic) && std::isfinite(numeric);
    if ((!finite || abs_err > options.atol + options.rtol * std::fabs(numeric)) && result.ok) {
      result.ok = false;
      std::ostringstream msg;
      msg << what << ": input " << input << " element " << element << ": analytic " << analytic
          << " vs numeric " << numeric << " (abs error " << abs_err << ")";
      result.message = msg.str();
    }
  }
};

}  // namespace

GradcheckResult gradcheck(const DifferentiableFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  validate_inputs(inputs);
  GradcheckResult result;
  Comparison compare{result, options};
  Generator generator(options.seed);

  std::vector<Tensor> checked;
  std::vector<size_t> checked_index;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) {
      checked.push_back(inputs[i]);
      checked_index.push_back(i);
    }
  KITE_CHECK(!checked.empty(), "gradcheck: no input requires grad");

  Tensor y = f(inputs);
  KITE_CHECK(y.defined() && is_floating(y.dtype()),
             "gradcheck: the function must return a floating tensor");
  Tensor v = random_like(y, generator);
  KITE_CHECK(y.requires_grad(),
             "gradcheck: the output does not require grad (is it connected to the inputs?)");
  std::vector<Tensor> analytic = autograd::grad({y}, checked, {v}, false, true);

  // Numeric: central differences of v . f(x), one element at a time.
  for (size_t c = 0; c < checked.size(); ++c) {
    double* data = checked[c].data_ptr<double>();
    std::vector<double> grad_values = analytic[c].defined()
                                          ? to_double_vector(analytic[c])
                                          : std::vector<double>(checked[c].numel(), 0.0);
    for (int64_t e = 0; e < checked[c].numel(); ++e) {
      const double original = data[e];
      data[e] = original + options.eps;
      double plus = contract(v, f(inputs));
      data[e] = original - options.eps;
      double minus = contract(v, f(inputs));
      data[e] = original;
      compare.check("gradient", checked_index[c], e, grad_values[e],
                    (plus - minus) / (2 * options.eps));
    }
  }

  if (options.check_linearity && result.ok) {
    // Backward must be linear in the incoming gradient: grad(2v) == 2 grad(v).
    Tensor v2 = Tensor::empty(v.shape(), DType::Float64);
    for (int64_t i = 0; i < v.numel(); ++i)
      v2.data_ptr<double>()[i] = 2.0 * v.data_ptr<double>()[i];
    std::vector<Tensor> doubled = autograd::grad({f(inputs)}, checked, {v2}, false, true);
    for (size_t c = 0; c < checked.size() && result.ok; ++c) {
      if (!analytic[c].defined()) continue;
      std::vector<double> a = to_double_vector(analytic[c]), b = to_double_vector(doubled[c]);
      for (size_t e = 0; e < a.size(); ++e)
        compare.check("linearity", checked_index[c], e, b[e], 2 * a[e]);
    }
  }

  if (options.check_accumulation && result.ok) {
    // backward() must add into an existing .grad, not overwrite it.
    // Pre-fill each .grad with a copy of random g0 (the copy is what the engine may replace).
    std::vector<Tensor> previous;
    for (Tensor& x : checked) previous.push_back(random_like(x, generator));
    for (size_t c = 0; c < checked.size(); ++c) {
      Tensor copy = Tensor::empty(checked[c].shape(), DType::Float64);
      std::vector<double> values = to_double_vector(previous[c]);
      std::copy(values.begin(), values.end(), copy.data_ptr<double>());
      checked[c].set_grad(copy);
    }
    f(inputs).backward(v);
    for (size_t c = 0; c < checked.size() && result.ok; ++c) {
      std::vector<double> got = to_double_vector(checked[c].grad());
      std::vector<double> g0 = to_double_vector(previous[c]);
      std::vector<double> a = analytic[c].defined() ? to_double_vector(analytic[c])
                                                    : std::vector<double>(got.size(), 0.0);
      for (size_t e = 0; e < got.size(); ++e)
        compare.check("accumulation", checked_index[c], e, got[e], g0[e] + a[e]);
      checked[c].zero_grad();
    }
  }
  return result;
}

GradcheckResult gradgradcheck(const DifferentiableFn& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options) {
  validate_inputs(inputs);
  Generator generator(options.seed + 1);
  std::vector<Tensor> checked;
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad()) checked.push_back(x);
  Tensor y = f(inputs);
  Tensor v = random_like(y, generator);

  GradcheckResult combined;
  GradcheckOptions inner = options;
  inner.check_accumulation = false;  // first-order gradcheck already covers accumulation
  for (size_t k = 0; k < checked.size(); ++k) {
    // h_k(x) = d(v . f(x)) / d x_k, built with create_graph so it can be differentiated.
    DifferentiableFn h = [&, k](const std::vector<Tensor>& xs) {
      std::vector<Tensor> wrt;
      for (const Tensor& x : xs)
        if (x.defined() && x.requires_grad()) wrt.push_back(x);
      return autograd::grad({f(xs)}, wrt, {v}, true, true)[k];
    };
    Tensor probe = h(inputs);
    if (!probe.defined() || !probe.requires_grad()) continue;  // gradient constant in x
    GradcheckResult r = gradcheck(h, inputs, inner);
    combined.max_abs_error = std::max(combined.max_abs_error, r.max_abs_error);
    combined.max_rel_error = std::max(combined.max_rel_error, r.max_rel_error);
    if (!r.ok && combined.ok) {
      combined.ok = false;
      combined.message =
          "second order (d/dx of grad wrt input " + std::to_string(k) + "): " + r.message;
    }
  }
  return combined;
}

}  // namespace kite
