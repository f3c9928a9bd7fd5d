// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight
// decay, as torch.optim.SGD with dampening 0 (the rule is spelled out in ops/math/optim.h).
#pragma once

#include "models/optim/optimizer.h"
#include "ops/optim_kernels.h"

namespace kite::optim {

class SGD : public Optimizer {
 public:
  // options.lr is the initial learning rate; set_learning_rate changes it later.
  SGD(std::vector<Tensor> parameters, const SgdParams& options);

  const SgdParams& options() const { return options_; }

 protected:
  // A momentum buffer per parameter, only when momentum is used.
  std::vector<std::string> buffer_names() const override;
  void update(const Tensor& param, const Tensor& grad, ParamState& state) override;

 private:
  SgdParams options_;
};

}  // namespace kite::optim
