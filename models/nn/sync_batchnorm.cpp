// Synchronised batch normalisation (see sync_batchnorm.h).
#include "models/nn/sync_batchnorm.h"

#include <mutex>

#include "engine/autograd.h"
#include "engine/error.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"

namespace kite::nn {

Tensor all_reduce_sum(const Tensor& x, std::shared_ptr<Communicator> communicator) {
  KITE_CHECK(communicator != nullptr, "all_reduce_sum: no communicator");
  Tensor out;
  {
    NoGradGuard no_grad;
    out = clone(x);  // contiguous, and the input stays untouched
  }
  communicator->all_reduce(out, ReduceOp::Sum);
  autograd::record(
      "all_reduce_sum", {x}, out,
      [communicator](const Tensor& grad, const BackwardContext&) -> std::vector<Tensor> {
        return {all_reduce_sum(grad, communicator)};
      });
  return out;
}

Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, double momentum,
                       double eps, std::shared_ptr<Communicator> communicator) {
  KITE_CHECK(x.dim() == 4, "sync_batch_norm: expected NCHW input, got " << describe(x));
  const int64_t channels = x.size(1);
  const Shape per_channel = {1, channels, 1, 1};
  double count = static_cast<double>(x.size(0) * x.size(2) * x.size(3));
  communicator->all_reduce_host(&count, 1, ReduceOp::Sum);
  KITE_CHECK(count > 1,
             "sync_batch_norm: training needs more than one value per channel over "
             "all ranks, got "
                 << count);

  const Tensor mean = all_reduce_sum(sum(x, {0, 2, 3}), communicator) / count;
  const Tensor centred = x - reshape(mean, per_channel);
  const Tensor var = all_reduce_sum(sum(centred * centred, {0, 2, 3}), communicator) / count;
  Tensor y = centred * reshape(rsqrt(var + eps), per_channel);
  if (weight.defined()) y = y * reshape(weight, per_channel);
  if (bias.defined()) y = y + reshape(bias, per_channel);

  if (running_mean.defined()) {
    NoGradGuard no_grad;
    copy_(running_mean, running_mean * (1 - momentum) + mean.detach() * momentum);
    copy_(running_var,
          running_var * (1 - momentum) + var.detach() * (momentum * count / (count - 1)));
  }
  return y;
}

namespace {
std::mutex sync_mutex;
std::shared_ptr<Communicator> sync_communicator;
}  // namespace

void set_sync_batchnorm(std::shared_ptr<Communicator> communicator) {
  std::lock_guard<std::mutex> lock(sync_mutex);
  sync_communicator = std::move(communicator);
}

std::shared_ptr<Communicator> sync_batchnorm_communicator() {
  std::lock_guard<std::mutex> lock(sync_mutex);
  return sync_communicator;
}

}  // namespace kite::nn
