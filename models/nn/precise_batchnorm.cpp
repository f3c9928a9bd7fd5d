// Precise BatchNorm statistics (see precise_batchnorm.h).
#include "models/nn/precise_batchnorm.h"

#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "models/nn/batchnorm.h"

namespace kite::nn {

int recompute_batch_norm_statistics(Module& model, int64_t batches,
                                    const std::function<void(int64_t)>& run_batch) {
  KITE_CHECK(batches > 0,
             "recompute_batch_norm_statistics: batches must be positive, got " << batches);
  std::vector<BatchNorm2d*> layers;
  for (Module* m : model.modules())
    if (auto* bn = dynamic_cast<BatchNorm2d*>(m); bn && bn->options().track_running_stats)
      layers.push_back(bn);
  if (layers.empty()) return 0;
  const bool was_training = model.is_training();
  std::vector<double> momenta;
  for (BatchNorm2d* bn : layers) {
    momenta.push_back(bn->options().momentum);
    bn->reset_running_stats();
  }
  model.train();
  {
    NoGradGuard no_grad;
    // running <- (1 - 1/(i+1)) running + 1/(i+1) batch_i: the mean of batches 0..i.
    for (int64_t i = 0; i < batches; ++i) {
      for (BatchNorm2d* bn : layers) bn->set_momentum(1.0 / static_cast<double>(i + 1));
      run_batch(i);
    }
  }
  for (size_t j = 0; j < layers.size(); ++j) layers[j]->set_momentum(momenta[j]);
  model.train(was_training);
  return static_cast<int>(layers.size());
}

}  // namespace kite::nn
