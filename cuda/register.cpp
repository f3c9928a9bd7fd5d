// Plugs the CUDA back end into the engine when kite_cuda is linked (whole-archive): a static
// object whose constructor registers the memory back end and fills the CUDA slot of every
// dispatch stub. Nothing here touches the GPU, so a machine without one starts normally (and
// CUDA tensors then fail with the driver's message when first allocated).
//
// Every stub of ops/*_kernels.h has a CUDA kernel; a stub left out would report
// "<op>: no kernel for device cuda:N" when called.
#include "cuda/backend.h"
#include "cuda/kernels.h"
#include "cuda/pinned.h"
#include "engine/cpu_allocator.h"

namespace kite::cuda {
namespace {

struct Registrar {
  Registrar() {
    register_backend(DeviceType::CUDA, &cuda_backend());
    register_pinned_host_allocator(allocate_pinned_host, free_pinned_host);
    constexpr DeviceType kCuda = DeviceType::CUDA;

    unary_stub.set(kCuda, unary_kernel);
    binary_stub.set(kCuda, binary_kernel);
    where_stub.set(kCuda, where_kernel);

    fill_stub.set(kCuda, fill_kernel);
    copy_stub.set(kCuda, copy_kernel);
    random_stub.set(kCuda, random_kernel);

    reduce_stub.set(kCuda, reduce_kernel);
    arg_reduce_stub.set(kCuda, arg_reduce_kernel);

    index_select_stub.set(kCuda, index_select_kernel);
    index_add_stub.set(kCuda, index_add_kernel);
    gather_stub.set(kCuda, gather_kernel);
    scatter_add_stub.set(kCuda, scatter_add_kernel);

    matmul_stub.set(kCuda, matmul_kernel);
    lu_stub.set(kCuda, lu_kernel);

    conv2d_stub.set(kCuda, conv2d_kernel);
    conv_transpose2d_stub.set(kCuda, conv_transpose2d_kernel);
    conv2d_weight_grad_stub.set(kCuda, conv2d_weight_grad_kernel);

    max_pool2d_stub.set(kCuda, max_pool2d_kernel);
    max_pool2d_backward_stub.set(kCuda, max_pool2d_backward_kernel);
    avg_pool2d_stub.set(kCuda, avg_pool2d_kernel);
    avg_pool2d_backward_stub.set(kCuda, avg_pool2d_backward_kernel);
    adaptive_avg_pool2d_stub.set(kCuda, adaptive_avg_pool2d_kernel);
    adaptive_avg_pool2d_backward_stub.set(kCuda, adaptive_avg_pool2d_backward_kernel);

    upsample_nearest2d_stub.set(kCuda, upsample_nearest2d_kernel);
    upsample_bilinear2d_stub.set(kCuda, upsample_bilinear2d_kernel);
    upsample_bilinear2d_backward_stub.set(kCuda, upsample_bilinear2d_backward_kernel);

    norm_moments_stub.set(kCuda, norm_moments_kernel);
    norm_apply_stub.set(kCuda, norm_apply_kernel);
    batch_norm_backward_stub.set(kCuda, batch_norm_backward_kernel);
    norm_backward_stub.set(kCuda, norm_backward_kernel);

    sgd_step_stub.set(kCuda, sgd_step_kernel);
    adam_step_stub.set(kCuda, adam_step_kernel);
    sum_of_squares_stub.set(kCuda, sum_of_squares_kernel);
    scale_stub.set(kCuda, scale_kernel);
  }
};

const Registrar registrar;

}  // namespace
}  // namespace kite::cuda
