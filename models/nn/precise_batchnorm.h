// Precise BatchNorm statistics (Wu & Johnson 2021, "Rethinking 'Batch' in BatchNorm"): after
// training, each BatchNorm's running mean and variance are an exponential average over its
// last ten or so batches (momentum 0.1), taken while the weights were still moving, so the
// model evaluated at one step can be noticeably better or worse than at the next. This
// replaces them by the plain average over `batches` training batches of the final weights.
#pragma once

#include <cstdint>
#include <functional>

#include "models/nn/module.h"

namespace kite::nn {

// Resets the running statistics of every BatchNorm2d in `model`, then calls
// run_batch(0 .. batches - 1) (each should forward one training batch through the model) in
// training mode without gradients, weighting batch i by 1 / (i + 1) so that the result is
// the average over all of them. Momentum and the training/evaluation mode are restored.
// Returns the number of BatchNorm layers updated (0: nothing to do, run_batch not called).
int recompute_batch_norm_statistics(Module& model, int64_t batches,
                                    const std::function<void(int64_t)>& run_batch);

}  // namespace kite::nn
