// SGD: checks its options once, then hands each parameter to the fused sgd_step_.
#include "models/optim/sgd.h"

#include <cmath>

#include "engine/error.h"

namespace kite::optim {

SGD::SGD(std::vector<Tensor> parameters, const SgdParams& options)
    : Optimizer(std::move(parameters), options.lr, "SGD"), options_(options) {
  check_hyperparameter("SGD", "momentum", options.momentum, 0.0, 1.0, false);
  check_hyperparameter("SGD", "weight_decay", options.weight_decay, 0.0, INFINITY, true);
  KITE_CHECK(!options.nesterov || options.momentum > 0.0, "SGD: nesterov needs momentum > 0");
}

std::vector<std::string> SGD::buffer_names() const {
  if (options_.momentum == 0.0) return {};
  return {"momentum_buffer"};
}

void SGD::update(const Tensor& param, const Tensor& grad, ParamState& state) {
  SgdParams p = options_;
  p.lr = learning_rate();
  const Tensor buffer = state.buffers.empty() ? Tensor() : state.buffers[0];
  sgd_step_(param, grad, buffer, p, /*first_step=*/state.step == 1);
}

}  // namespace kite::optim
