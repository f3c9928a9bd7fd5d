// Synchronised batch normalisation for data-parallel training (--sync-bn).
//
// With per-rank statistics (the default, as PyTorch's DDP), each rank's BatchNorm normalises
// with the mean and variance of its own B/N images. Synchronised, the per-channel sums are
// all-reduced so that every rank normalises with the statistics of the whole global batch:
// N ranks at batch B/N compute exactly what one rank at batch B computes, gradients included,
// because the all-reduce is itself a differentiable op (its backward all-reduces the incoming
// gradient sums, since every rank's loss depends on every rank's inputs through the statistics).
//
// While a communicator is set with set_sync_batchnorm, every BatchNorm2d in training mode takes
// this path (when the world has more than one rank).
#pragma once

#include <memory>

#include "engine/communicator.h"
#include "engine/tensor.h"

namespace kite::nn {

// The sum over ranks of x, differentiable: the gradient of every rank's input is the sum over
// ranks of the gradients arriving at the output. Every rank must call it in the same order.
Tensor all_reduce_sum(const Tensor& x, std::shared_ptr<Communicator> communicator);

// Batch normalisation of NCHW x in training mode with the statistics of the global batch
// (all ranks' images). weight/bias may be undefined (no affine); running_mean/running_var,
// when defined, are updated in place with the global mean and unbiased global variance.
// Two all-reduces of [C] sums: the mean first, then the centred squares (no cancellation).
Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, double momentum,
                       double eps, std::shared_ptr<Communicator> communicator);

// The process-wide switch read by BatchNorm2d: null (the default) means per-rank statistics.
void set_sync_batchnorm(std::shared_ptr<Communicator> communicator);
std::shared_ptr<Communicator> sync_batchnorm_communicator();

}  // namespace kite::nn
