// Optimizer: the base of SGD, Adam and AdamW. It holds the parameters (leaf tensors), the
// learning rate, the step count and each parameter's state (its own step count and the
// buffers the rule keeps, such as Adam's moments), and runs one fused in-place update per
// parameter under no-grad (ops/optim_kernels.h).
//
// Usage, one training step:
//   optimizer.zero_grad();
//   loss.backward();
//   optimizer.set_learning_rate(schedule.lr(optimizer.step_count()));
//   optimizer.step();
//
// Parameters whose .grad is undefined (they took no part in this loss) are skipped, and
// their state does not advance: like PyTorch, each parameter counts its own steps, which is
// what Adam's bias correction uses.
//
// Checkpoints: state_tensors(prefix) exports everything needed to continue a run exactly as
// named tensors (the learning rate and step count as 0-d tensors), so a safetensors
// checkpoint can hold it next to the model's weights; load_state_tensors restores it:
//   <prefix>step             int64 0-d   calls of step() so far
//   <prefix>lr               float64 0-d the current learning rate
//   <prefix><i>.step         int64 0-d   updates of parameter i (only parameters with state)
//   <prefix><i>.<buffer>     the parameter's buffers, e.g. "optim.3.exp_avg"
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace kite::optim {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient. Runs under no-grad.
  void step();
  // Drops every parameter's .grad (the next backward starts from nothing, like PyTorch's
  // zero_grad(set_to_none = true)).
  void zero_grad();

  double learning_rate() const { return lr_; }
  void set_learning_rate(double lr);
  int64_t step_count() const { return step_count_; }
  const std::vector<Tensor>& parameters() const { return parameters_; }
  const char* name() const { return name_; }

  // A snapshot (copies) of the state, named as in the header comment.
  std::map<std::string, Tensor> state_tensors(const std::string& prefix = "optim.") const;
  // Replaces the state with the one in `tensors` (entries under other prefixes are ignored).
  // Buffers are copied to each parameter's device; shapes and dtypes must match.
  void load_state_tensors(const std::map<std::string, Tensor>& tensors,
                          const std::string& prefix = "optim.");

 protected:
  struct ParamState {
    int64_t step = 0;             // 0: the parameter has never been updated and has no buffers yet
    std::vector<Tensor> buffers;  // one per buffer_names() entry, shaped like the parameter
  };

  // name: used in error messages ("Adam", "SGD").
  Optimizer(std::vector<Tensor> parameters, double lr, const char* name);

  // The per-parameter buffers of the rule, created as zeros on a parameter's first update.
  virtual std::vector<std::string> buffer_names() const = 0;
  // Updates one parameter in place. state.step already counts this update (1 on the first);
  // grad is contiguous.
  virtual void update(const Tensor& param, const Tensor& grad, ParamState& state) = 0;

  static void check_hyperparameter(const char* optimizer, const char* name, double value, double lo,
                                   double hi, bool hi_open);

 private:
  std::vector<Tensor> parameters_;
  std::vector<ParamState> states_;
  double lr_;
  int64_t step_count_ = 0;
  const char* name_;
};

}  // namespace kite::optim
