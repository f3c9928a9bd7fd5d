// The host-backed stand-in for a GPU (see host_device.h).
#include "host_device.h"

#include "engine/backend.h"
#include "ops/det_kernels.h"
#include "ops/elementwise_kernels.h"
#include "ops/factory_kernels.h"
#include "ops/linalg_kernels.h"
#include "ops/nn_kernels.h"
#include "ops/optim_kernels_dispatch.h"
#include "ops/reduce_kernels.h"
#include "ops/shape_kernels.h"

namespace kite::test_support {
namespace {

// The CPU's kernel in the CUDA slot.
template <class Stub>
void plug(Stub& stub) {
  stub.set(DeviceType::CUDA, stub.get(Device::cpu()));
}

}  // namespace

void install_host_backed_cuda() {
  // The CPU's own back end (host memory, memcpy, one device) serves the CUDA slot too.
  register_backend(DeviceType::CUDA, &backend_for(DeviceType::CPU));
  // Every stub of ops/*_kernels.h (the same list as cuda/register.cpp); one left out keeps the
  // real CUDA kernel in a CUDA build, which then fails on host memory with CUDA's error.
  plug(unary_stub);
  plug(binary_stub);
  plug(where_stub);
  plug(fill_stub);
  plug(copy_stub);
  plug(random_stub);
  plug(reduce_stub);
  plug(arg_reduce_stub);
  plug(index_select_stub);
  plug(index_add_stub);
  plug(gather_stub);
  plug(scatter_add_stub);
  plug(matmul_stub);
  plug(lu_stub);
  plug(conv2d_stub);
  plug(conv_transpose2d_stub);
  plug(conv2d_weight_grad_stub);
  plug(max_pool2d_stub);
  plug(max_pool2d_backward_stub);
  plug(avg_pool2d_stub);
  plug(avg_pool2d_backward_stub);
  plug(adaptive_avg_pool2d_stub);
  plug(adaptive_avg_pool2d_backward_stub);
  plug(upsample_nearest2d_stub);
  plug(upsample_bilinear2d_stub);
  plug(upsample_bilinear2d_backward_stub);
  plug(norm_moments_stub);
  plug(norm_apply_stub);
  plug(batch_norm_backward_stub);
  plug(norm_backward_stub);
  plug(sgd_step_stub);
  plug(adam_step_stub);
  plug(sum_of_squares_stub);
  plug(scale_stub);
}

}  // namespace kite::test_support
