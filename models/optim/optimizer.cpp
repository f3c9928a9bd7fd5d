// The optimizer base: parameter bookkeeping, the step loop, and state export/import
// (see optimizer.h for the naming scheme of the exported tensors).
#include "models/optim/optimizer.h"

#include <charconv>
#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/factory.h"
#include "ops/shape_ops.h"

namespace kite::optim {
namespace {

Tensor int64_scalar(int64_t value) { return Tensor::from_vector<int64_t>({value}, {}); }

int64_t read_int64_scalar(const char* who, const std::string& key, const Tensor& t) {
  KITE_CHECK(t.dtype() == DType::Int64 && t.numel() == 1,
             who << ": state entry '" << key << "' must be a single int64, got " << describe(t));
  return t.item<int64_t>();
}

}  // namespace

Optimizer::Optimizer(std::vector<Tensor> parameters, double lr, const char* name)
    : parameters_(std::move(parameters)), states_(parameters_.size()), lr_(lr), name_(name) {
  KITE_CHECK(!parameters_.empty(), name_ << ": got an empty parameter list");
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& p = parameters_[i];
    KITE_CHECK(p.defined(), name_ << ": parameter " << i << " is undefined");
    KITE_CHECK(p.is_leaf(), name_ << ": parameter " << i << " (" << describe(p)
                                  << ") is not a leaf tensor; optimise leaves, not results of ops");
    KITE_CHECK(is_floating(p.dtype()),
               name_ << ": parameter " << i << " must be floating, got " << describe(p));
    for (size_t j = 0; j < i; ++j) {
      KITE_CHECK(!p.is_same(parameters_[j]),
                 name_ << ": parameter " << i << " is the same tensor as parameter " << j);
    }
  }
  set_learning_rate(lr);
}

void Optimizer::check_hyperparameter(const char* optimizer, const char* name, double value,
                                     double lo, double hi, bool hi_open) {
  const bool ok = std::isfinite(value) && value >= lo && (hi_open ? value < hi : value <= hi);
  KITE_CHECK(ok, optimizer << ": " << name << " must be in [" << lo << ", " << hi
                           << (hi_open ? ")" : "]") << ", got " << value);
}

void Optimizer::set_learning_rate(double lr) {
  KITE_CHECK(std::isfinite(lr) && lr >= 0.0,
             name_ << ": learning rate must be finite and >= 0, got " << lr);
  lr_ = lr;
}

void Optimizer::step() {
  NoGradGuard no_grad;
  ++step_count_;
  const std::vector<std::string> names = buffer_names();
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& param = parameters_[i];
    const Tensor grad = param.grad();
    if (!grad.defined()) continue;
    ParamState& state = states_[i];
    if (state.step == 0) {
      state.buffers.clear();
      for (size_t b = 0; b < names.size(); ++b) state.buffers.push_back(zeros_like(param));
    }
    ++state.step;
    update(param, contiguous(grad), state);
  }
}

void Optimizer::zero_grad() {
  for (Tensor& p : parameters_) p.zero_grad();
}

std::map<std::string, Tensor> Optimizer::state_tensors(const std::string& prefix) const {
  NoGradGuard no_grad;
  const std::vector<std::string> names = buffer_names();
  std::map<std::string, Tensor> out;
  out[prefix + "step"] = int64_scalar(step_count_);
  out[prefix + "lr"] = scalar_tensor(lr_, DType::Float64);
  for (size_t i = 0; i < states_.size(); ++i) {
    const ParamState& state = states_[i];
    if (state.step == 0) continue;
    const std::string base = prefix + std::to_string(i) + ".";
    out[base + "step"] = int64_scalar(state.step);
    for (size_t b = 0; b < names.size(); ++b) out[base + names[b]] = clone(state.buffers[b]);
  }
  return out;
}

void Optimizer::load_state_tensors(const std::map<std::string, Tensor>& tensors,
                                   const std::string& prefix) {
  NoGradGuard no_grad;
  const std::vector<std::string> names = buffer_names();
  const std::string who = std::string(name_) + ".load_state_tensors";

  // Parse into fresh state first, so that a bad checkpoint leaves the optimizer unchanged.
  std::vector<ParamState> states(parameters_.size());
  std::vector<std::vector<bool>> seen(parameters_.size(), std::vector<bool>(names.size(), false));
  int64_t step_count = -1;
  double lr = -1.0;
  for (const auto& [key, tensor] : tensors) {
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = key.substr(prefix.size());
    KITE_CHECK(tensor.defined(), who << ": state entry '" << key << "' is undefined");
    if (rest == "step") {
      step_count = read_int64_scalar(who.c_str(), key, tensor);
      KITE_CHECK(step_count >= 0, who << ": '" << key << "' is negative: " << step_count);
      continue;
    }
    if (rest == "lr") {
      KITE_CHECK(
          is_floating(tensor.dtype()) && tensor.numel() == 1,
          who << ": state entry '" << key << "' must be a single float, got " << describe(tensor));
      lr = tensor.item<double>();
      continue;
    }
    // "<i>.<name>"
    const size_t dot = rest.find('.');
    size_t index = 0;
    const char* first = rest.data();
    const char* last = rest.data() + (dot == std::string::npos ? 0 : dot);
    const auto [end, error] = std::from_chars(first, last, index);
    KITE_CHECK(dot != std::string::npos && dot > 0 && error == std::errc() && end == last,
               who << ": unexpected state entry '" << key << "'");
    KITE_CHECK(index < parameters_.size(), who << ": state entry '" << key << "' is for parameter "
                                               << index << " but the optimizer has "
                                               << parameters_.size() << " parameters");
    const std::string field = rest.substr(dot + 1);
    const Tensor& param = parameters_[index];
    ParamState& state = states[index];
    if (field == "step") {
      state.step = read_int64_scalar(who.c_str(), key, tensor);
      KITE_CHECK(state.step >= 1, who << ": '" << key << "' must be >= 1, got " << state.step);
      continue;
    }
    size_t b = 0;
    while (b < names.size() && names[b] != field) ++b;
    KITE_CHECK(b < names.size(), who << ": unexpected state entry '" << key << "' (" << name_
                                     << " keeps no buffer named '" << field << "')");
    KITE_CHECK(tensor.shape() == param.shape() && tensor.dtype() == param.dtype(),
               who << ": '" << key << "' is " << describe(tensor) << " but parameter " << index
                   << " is " << describe(param));
    if (state.buffers.empty()) state.buffers.resize(names.size());
    // A copy of our own, so that later in-place updates never write into the caller's tensor.
    state.buffers[b] = clone(to_device(tensor, param.device()));
    seen[index][b] = true;
  }
  KITE_CHECK(step_count >= 0, who << ": missing '" << prefix << "step'");
  KITE_CHECK(lr >= 0.0 && std::isfinite(lr), who << ": missing or invalid '" << prefix << "lr'");
  for (size_t i = 0; i < states.size(); ++i) {
    for (size_t b = 0; b < names.size(); ++b) {
      KITE_CHECK(seen[i][b] || states[i].step == 0, who << ": parameter " << i
                                                        << " has a step count but no '" << prefix
                                                        << i << "." << names[b] << "'");
      KITE_CHECK(!seen[i][b] || states[i].step > 0, who << ": '" << prefix << i << "." << names[b]
                                                        << "' without '" << prefix << i
                                                        << ".step'");
    }
  }
  states_ = std::move(states);
  step_count_ = step_count;
  lr_ = lr;
}

}  // namespace kite::optim
