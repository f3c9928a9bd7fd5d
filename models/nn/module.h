// Module: the base of every layer and model. It owns named parameters (trainable leaf
// tensors), buffers (state that is saved but not trained, like BatchNorm's running mean)
// and child modules, and gives them dotted names for checkpoints:
//   encoder.block1.conv1.weight
//
// A subclass keeps its tensors as members and registers their addresses once in its
// constructor, so modules are neither copied nor moved (hold them by std::shared_ptr).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace kite::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;
  int64_t num_parameters() const;
  // This module and every descendant, depth first (for passes over layers of one kind).
  std::vector<Module*> modules();

  // Training mode changes what some layers do (BatchNorm statistics, dropout).
  void train(bool training = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves/casts every parameter and buffer; parameters stay trainable leaves.
  void to(Device device);
  void to(DType dtype);

  // Parameters and buffers by dotted name (copies share storage with the module).
  std::map<std::string, Tensor> state_dict() const;
  // Copies values in (shapes must match). strict: every name must be present and no extra
  // names allowed; the error lists the missing and unexpected names.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  void zero_grad();

 protected:
  void register_parameter(const std::string& name, Tensor* parameter);
  void register_buffer(const std::string& name, Tensor* buffer);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    children_.emplace_back(name, module);
    return module;
  }
  // Called by train(); layers override to react (default: nothing).
  virtual void on_train(bool) {}

 private:
  void collect(const std::string& prefix, bool parameters, NamedTensors& out) const;
  void collect_slots(const std::string& prefix, bool parameters,
                     std::vector<std::pair<std::string, Tensor*>>& out);

  std::vector<std::pair<std::string, Tensor*>> parameters_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace kite::nn
