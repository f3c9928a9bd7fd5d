// Adam (Kingma & Ba) and AdamW (Loshchilov & Hutter), as torch.optim.Adam and AdamW with
// amsgrad off: bias-corrected first and second moments per parameter. Adam adds weight
// decay to the gradient (L2 regularisation); AdamW shrinks the weights directly,
// param *= 1 - lr * weight_decay, outside the adaptive scaling. The rule is spelled out in
// ops/math/optim.h.
#pragma once

#include "models/optim/optimizer.h"
#include "ops/optim_kernels.h"

namespace kite::optim {

class Adam : public Optimizer {
 public:
  // options.lr is the initial learning rate; set_learning_rate changes it later.
  explicit Adam(std::vector<Tensor> parameters, const AdamParams& options = {});

  const AdamParams& options() const { return options_; }

 protected:
  Adam(std::vector<Tensor> parameters, const AdamParams& options, const char* name);
  // exp_avg (first moment) and exp_avg_sq (second moment).
  std::vector<std::string> buffer_names() const override;
  void update(const Tensor& param, const Tensor& grad, ParamState& state) override;

 private:
  AdamParams options_;
};

class AdamW : public Adam {
 public:
  // PyTorch's AdamW defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2.
  static AdamParams default_options();
  // options.decoupled_weight_decay is forced on.
  explicit AdamW(std::vector<Tensor> parameters, const AdamParams& options = default_options());
};

}  // namespace kite::optim
