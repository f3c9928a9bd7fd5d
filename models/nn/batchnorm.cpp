// BatchNorm2d (see batchnorm.h).
#include "models/nn/batchnorm.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "models/nn/sync_batchnorm.h"
#include "ops/factory.h"
#include "ops/norm.h"

namespace kite::nn {

BatchNorm2d::BatchNorm2d(int64_t channels, const BatchNormOptions& options, DType dtype)
    : channels_(channels), options_(options) {
  KITE_CHECK(channels > 0, "BatchNorm2d: channel count must be positive, got " << channels);
  KITE_CHECK(options.eps > 0, "BatchNorm2d: eps must be positive, got " << options.eps);
  KITE_CHECK(options.momentum >= 0 && options.momentum <= 1,
             "BatchNorm2d: momentum must lie in [0, 1], got " << options.momentum);
  if (options.affine) {
    weight = ones({channels}, dtype);
    bias = zeros({channels}, dtype);
    register_parameter("weight", &weight);
    register_parameter("bias", &bias);
  }
  if (options.track_running_stats) {
    running_mean = zeros({channels}, dtype);
    running_var = ones({channels}, dtype);
    num_batches_tracked = zeros({}, DType::Int64);
    register_buffer("running_mean", &running_mean);
    register_buffer("running_var", &running_var);
    register_buffer("num_batches_tracked", &num_batches_tracked);
  }
}

void BatchNorm2d::set_momentum(double momentum) {
  KITE_CHECK(momentum >= 0 && momentum <= 1,
             "BatchNorm2d: momentum must lie in [0, 1], got " << momentum);
  options_.momentum = momentum;
}

void BatchNorm2d::reset_running_stats() {
  if (!options_.track_running_stats) return;
  NoGradGuard no_grad;
  fill_(running_mean, 0.0);
  fill_(running_var, 1.0);
  fill_(num_batches_tracked, 0.0);
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  KITE_CHECK(x.dim() == 4 && x.size(1) == channels_,
             "BatchNorm2d: expected input [N, " << channels_ << ", H, W], got " << describe(x));
  const bool use_batch_stats = is_training() || !options_.track_running_stats;
  if (is_training() && options_.track_running_stats) {
    // A single image of a single pixel has no variance to estimate (PyTorch refuses too).
    KITE_CHECK(x.size(0) * x.size(2) * x.size(3) > 1,
               "BatchNorm2d: training needs more than one value per channel, got " << describe(x));
    NoGradGuard no_grad;
    if (num_batches_tracked.device().is_cpu()) {
      ++num_batches_tracked.data_ptr<int64_t>()[0];
    } else {
      const int64_t count = to_device(num_batches_tracked, Device::cpu()).item<int64_t>();
      copy_(num_batches_tracked,
            to_device(Tensor::from_vector<int64_t>({count + 1}, {}), num_batches_tracked.device()));
    }
  }
  // Data-parallel --sync-bn: the statistics of the global batch (see sync_batchnorm.h).
  if (is_training()) {
    if (auto communicator = sync_batchnorm_communicator();
        communicator && communicator->world_size() > 1)
      return sync_batch_norm(x, weight, bias, running_mean, running_var, options_.momentum,
                             options_.eps, std::move(communicator));
  }
  // Running statistics are passed only when they are to be updated (training) or used (eval).
  const Tensor mean = options_.track_running_stats ? running_mean : Tensor();
  const Tensor var = options_.track_running_stats ? running_var : Tensor();
  return batch_norm(x, weight, bias, mean, var, use_batch_stats, options_.momentum, options_.eps);
}

}  // namespace kite::nn
