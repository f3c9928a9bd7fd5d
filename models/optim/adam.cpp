// Adam and AdamW: check their options once, then hand each parameter and its two moments to
// the fused adam_step_, with the parameter's own step count for the bias correction.
#include "models/optim/adam.h"

#include <cmath>

namespace kite::optim {
namespace {

AdamParams decoupled(AdamParams options) {
  options.decoupled_weight_decay = true;
  return options;
}

}  // namespace

Adam::Adam(std::vector<Tensor> parameters, const AdamParams& options)
    : Adam(std::move(parameters), options, "Adam") {}

Adam::Adam(std::vector<Tensor> parameters, const AdamParams& options, const char* name)
    : Optimizer(std::move(parameters), options.lr, name), options_(options) {
  check_hyperparameter(name, "beta1", options.beta1, 0.0, 1.0, true);
  check_hyperparameter(name, "beta2", options.beta2, 0.0, 1.0, true);
  check_hyperparameter(name, "eps", options.eps, 0.0, INFINITY, true);
  check_hyperparameter(name, "weight_decay", options.weight_decay, 0.0, INFINITY, true);
}

std::vector<std::string> Adam::buffer_names() const { return {"exp_avg", "exp_avg_sq"}; }

void Adam::update(const Tensor& param, const Tensor& grad, ParamState& state) {
  AdamParams p = options_;
  p.lr = learning_rate();
  adam_step_(param, grad, state.buffers[0], state.buffers[1], p, state.step);
}

AdamParams AdamW::default_options() {
  AdamParams options;
  options.weight_decay = 1e-2;
  options.decoupled_weight_decay = true;
  return options;
}

AdamW::AdamW(std::vector<Tensor> parameters, const AdamParams& options)
    : Adam(std::move(parameters), decoupled(options), "AdamW") {}

}  // namespace kite::optim
