// Module bookkeeping (see module.h).
#include "models/nn/module.h"

#include <set>
#include <sstream>

#include "engine/autograd.h"
#include "ops/factory.h"

namespace kite::nn {

void Module::register_parameter(const std::string& name, Tensor* parameter) {
  KITE_CHECK(parameter->defined(), "register_parameter: '" << name << "' is undefined");
  if (!parameter->requires_grad()) parameter->set_requires_grad(true);
  parameters_.emplace_back(name, parameter);
}

void Module::register_buffer(const std::string& name, Tensor* buffer) {
  buffers_.emplace_back(name, buffer);
}

void Module::collect(const std::string& prefix, bool parameters, NamedTensors& out) const {
  for (const auto& [name, slot] : parameters ? parameters_ : buffers_)
    if (slot->defined()) out.emplace_back(prefix + name, *slot);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", parameters, out);
}

void Module::collect_slots(const std::string& prefix, bool parameters,
                           std::vector<std::pair<std::string, Tensor*>>& out) {
  for (auto& [name, slot] : parameters ? parameters_ : buffers_)
    out.emplace_back(prefix + name, slot);
  for (auto& [name, child] : children_) child->collect_slots(prefix + name + ".", parameters, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<Module*> Module::modules() {
  std::vector<Module*> out{this};
  for (auto& [name, child] : children_)
    for (Module* m : child->modules()) out.push_back(m);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::train(bool training) {
  training_ = training;
  on_train(training);
  for (auto& [name, child] : children_) child->train(training);
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  std::vector<std::pair<std::string, Tensor*>> slots;
  collect_slots("", true, slots);
  for (auto& [name, slot] : slots) {
    *slot = to_device(*slot, device).detach();
    slot->set_requires_grad(true);
  }
  slots.clear();
  collect_slots("", false, slots);
  for (auto& [name, slot] : slots)
    if (slot->defined()) *slot = to_device(*slot, device);
}

void Module::to(DType dtype) {
  NoGradGuard no_grad;
  std::vector<std::pair<std::string, Tensor*>> slots;
  collect_slots("", true, slots);
  for (auto& [name, slot] : slots) {
    *slot = to_dtype(*slot, dtype).detach();
    slot->set_requires_grad(true);
  }
  slots.clear();
  collect_slots("", false, slots);
  for (auto& [name, slot] : slots)
    if (slot->defined() && is_floating(slot->dtype())) *slot = to_dtype(*slot, dtype);
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : named_parameters()) out[name] = t.detach();
  for (auto& [name, t] : named_buffers()) out[name] = t;
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  NoGradGuard no_grad;
  std::vector<std::pair<std::string, Tensor*>> slots;
  collect_slots("", true, slots);
  collect_slots("", false, slots);
  std::vector<std::string> missing;
  std::set<std::string> used;
  for (auto& [name, slot] : slots) {
    auto it = state.find(name);
    if (it == state.end()) {
      missing.push_back(name);
      continue;
    }
    used.insert(name);
    const Tensor& value = it->second;
    if (!slot->defined()) {  // optional buffers (e.g. lazily created) take the stored value
      *slot = to_device(value, Device::cpu());
      continue;
    }
    KITE_CHECK(value.shape() == slot->shape(),
               "load_state_dict: '" << name << "' has shape " << shape_str(value.shape())
                                    << " in the checkpoint but " << shape_str(slot->shape())
                                    << " in the model");
    copy_(*slot, to_device(value, slot->device()));
  }
  std::vector<std::string> unexpected;
  for (auto& [name, value] : state)
    if (!used.count(name)) unexpected.push_back(name);
  if (strict && (!missing.empty() || !unexpected.empty())) {
    std::ostringstream msg;
    msg << "load_state_dict: checkpoint does not match the model;";
    if (!missing.empty()) {
      msg << " missing:";
      for (auto& n : missing) msg << " " << n;
    }
    if (!unexpected.empty()) {
      msg << (missing.empty() ? "" : ";") << " unexpected:";
      for (auto& n : unexpected) msg << " " << n;
    }
    KITE_FAIL(msg.str());
  }
}

void Module::zero_grad() {
  for (auto& [name, t] : named_parameters()) {
    Tensor p = t;
    p.zero_grad();
  }
}

}  // namespace kite::nn
