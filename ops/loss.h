// Losses and the softmax family. Reduction::Mean averages over every element (or over the
// batch for the class-wise losses), Sum adds, None keeps per-element values.
#pragma once

#include "engine/tensor.h"

namespace kite {

enum class Reduction { Mean, Sum, None };

Tensor softmax(const Tensor& x, int64_t axis);
Tensor log_softmax(const Tensor& x, int64_t axis);

Tensor mse_loss(const Tensor& prediction, const Tensor& target,
                Reduction reduction = Reduction::Mean);
// Numerically stable: max(x, 0) - x * t + log(1 + exp(-|x|)).
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::Mean);
// logits [N, C], labels int64 [N]; Mean averages over N.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels,
                     Reduction reduction = Reduction::Mean);
// Negative log-density of x under N(mean, exp(log_var)), including 0.5 log(2 pi).
Tensor gaussian_nll(const Tensor& x, const Tensor& mean, const Tensor& log_var,
                    Reduction reduction = Reduction::Mean);
// KL(N(mu, exp(log_var)) || N(0, I)) per element: 0.5 (mu^2 + exp(log_var) - 1 - log_var).
Tensor kl_normal(const Tensor& mu, const Tensor& log_var, Reduction reduction = Reduction::Sum);

}  // namespace kite
