// The CUDA kernels of every op family, with the signatures of the kernel interfaces in
// ops/*_kernels.h (cuda/register.cpp puts them in the CUDA slots of the dispatch stubs).
// Each one sets the tensors' device for its duration and launches on the current stream;
// none waits for the GPU unless it must return a host value (sum_of_squares) or report an
// error found on the device (a singular matrix in lu).
#pragma once

#include <cstdint>

#include "engine/generator.h"
#include "engine/tensor.h"
#include "ops/det_kernels.h"
#include "ops/elementwise_kernels.h"
#include "ops/factory_kernels.h"
#include "ops/linalg_kernels.h"
#include "ops/nn_kernels.h"
#include "ops/optim_kernels_dispatch.h"
#include "ops/reduce_kernels.h"
#include "ops/shape_kernels.h"

namespace kite::cuda {

// elementwise_unary.cu, elementwise_binary.cu
void unary_kernel(UnaryOp op, const UnaryParams& params, const Tensor& x, const Tensor& out);
void binary_kernel(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
void where_kernel(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);

// factory.cu, random.cu
void fill_kernel(const Tensor& dst, double value);
void copy_kernel(const Tensor& src, const Tensor& dst);
void random_kernel(const RandomParams& params, Generator& generator, const Tensor& out);

// reduce.cu
void reduce_kernel(ReduceOp op, const Tensor& x, int64_t outer, int64_t n, int64_t inner,
                   const Tensor& out);
void arg_reduce_kernel(bool is_max, const Tensor& x, int64_t outer, int64_t n, int64_t inner,
                       const Tensor& values, const Tensor& indices);

// index.cu
void index_select_kernel(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& out);
void index_add_kernel(const Tensor& src, int64_t axis, const Tensor& index, const Tensor& out);
void gather_kernel(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& out);
void scatter_add_kernel(const Tensor& src, int64_t axis, const Tensor& index, const Tensor& out);

// matmul.cu
void matmul_kernel(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out);

// lu.cu
void lu_kernel(const Tensor& a, const Tensor& logabsdet, const Tensor& inverse);

// conv.cu
void conv2d_kernel(const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const math::ConvGeometry& geometry, const Tensor& output);
void conv_transpose2d_kernel(const Tensor& input, const Tensor& weight, const Tensor& bias,
                             const math::ConvGeometry& geometry, const Tensor& output);
void conv2d_weight_grad_kernel(const Tensor& input, const Tensor& grad_output,
                               const math::ConvGeometry& geometry, const Tensor& grad_weight);

// pool.cu
void max_pool2d_kernel(const Tensor& input, const math::Pool2dGeometry& geometry,
                       const Tensor& output, const Tensor& indices);
void max_pool2d_backward_kernel(const Tensor& grad_output, const Tensor& indices,
                                const math::Pool2dGeometry& geometry, const Tensor& grad_input);
void avg_pool2d_kernel(const Tensor& input, const math::Pool2dGeometry& geometry,
                       const Tensor& output);
void avg_pool2d_backward_kernel(const Tensor& grad_output, const math::Pool2dGeometry& geometry,
                                const Tensor& grad_input);
void adaptive_avg_pool2d_kernel(const Tensor& input, const math::Pool2dGeometry& geometry,
                                const Tensor& output);
void adaptive_avg_pool2d_backward_kernel(const Tensor& grad_output,
                                         const math::Pool2dGeometry& geometry,
                                         const Tensor& grad_input);

// upsample.cu
void upsample_nearest2d_kernel(const Tensor& input, const math::ResampleGeometry& geometry,
                               const Tensor& output);
void upsample_bilinear2d_kernel(const Tensor& input, const math::ResampleGeometry& geometry,
                                const Tensor& output);
void upsample_bilinear2d_backward_kernel(const Tensor& grad_output,
                                         const math::ResampleGeometry& geometry,
                                         const Tensor& grad_input);

// norm.cu
void norm_moments_kernel(const Tensor& input, const math::NormLayout& layout, const Tensor& mean,
                         const Tensor& var);
void norm_apply_kernel(const Tensor& input, const Tensor& mean, const Tensor& var,
                       const Tensor& weight, const Tensor& bias, const math::NormLayout& layout,
                       double eps, const Tensor& output);
void batch_norm_backward_kernel(const Tensor& grad_output, const Tensor& input, const Tensor& mean,
                                const Tensor& var, const Tensor& weight,
                                const math::NormLayout& layout, double eps,
                                const Tensor& grad_input, const Tensor& grad_weight,
                                const Tensor& grad_bias);
void norm_backward_kernel(const Tensor& grad_output, const Tensor& input, const Tensor& mean,
                          const Tensor& var, const Tensor& weight, const math::NormLayout& layout,
                          double eps, const Tensor& grad_input, const Tensor& grad_weight,
                          const Tensor& grad_bias);

// optim.cu
void sgd_step_kernel(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                     const SgdScalars& scalars);
void adam_step_kernel(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                      const Tensor& exp_avg_sq, const AdamScalars& scalars);
double sum_of_squares_kernel(const Tensor& x);
void scale_kernel(const Tensor& x, double factor);

}  // namespace kite::cuda
