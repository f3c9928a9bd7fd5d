// CUDA normalisation kernels (batch, group and layer norm) on the [outer, groups, inner]
// layout of ops/math/norm.h, with its arithmetic (inverse_std, AffineNormalize,
// batch_norm_input_grad).
//
// Statistics: a block per group. Its threads stride over the group's outer * inner elements
// (element t of group g is x[(t / inner * groups + g) * inner + t % inner]), sum in the
// accumulator type (double for float32, as on the CPU), and take the variance around the
// mean in a second pass, like the CPU kernel. Apply: a thread per element. Backward: a block
// per channel (batch norm) or statistics group (group / layer norm) for the input gradient,
// and for group / layer norm a block per affine parameter for the parameter gradients.
#include "cuda/block_reduce.cuh"
#include "cuda/kernels.h"
#include "engine/dtype.h"
#include "ops/math/norm.h"
#include "ops/math/reduce.h"

namespace kite::cuda {
namespace {

using math::NormLayout;

// Threads per block of the per-group kernels for large groups: a group is one block's work,
// and with few groups (batch norm over 64 channels) only large blocks fill the GPU. Small
// groups (layer norm over a row) take kBlockSize.
constexpr int kGroupBlockSize = 1024;
constexpr int64_t kLargeGroup = 8192;

// Visits the elements t, t + stride, ... of a group (element t of group g is at
// (t / inner * groups + g) * inner + t % inner) keeping t's quotient and remainder by inner,
// so that a step costs no 64-bit division (which the GPU does in software).
struct GroupWalk {
  int64_t slice, position;  // t / inner, t % inner
  int64_t slice_step, position_step;
  __device__ GroupWalk(const NormLayout& l, int64_t t, int64_t stride)
      : slice(t / l.inner),
        position(t % l.inner),
        slice_step(stride / l.inner),
        position_step(stride % l.inner) {}
  __device__ int64_t offset(const NormLayout& l, int64_t g) const {
    return (slice * l.groups + g) * l.inner + position;
  }
  __device__ void next(const NormLayout& l) {
    slice += slice_step;
    position += position_step;
    if (position >= l.inner) {
      position -= l.inner;
      ++slice;
    }
  }
};

template <class T>
__global__ void __launch_bounds__(kGroupBlockSize)
    moments_kernel(const T* x, NormLayout l, T* mean, T* var) {
  using A = math::accumulator_t<T>;
  __shared__ A group_mean;
  const int64_t count = l.group_size();
  for (int64_t g = blockIdx.x; g < l.groups; g += gridDim.x) {
    A sum = 0;
    GroupWalk walk(l, threadIdx.x, blockDim.x);
    for (int64_t t = threadIdx.x; t < count; t += blockDim.x, walk.next(l))
      sum += A(x[walk.offset(l, g)]);
    sum = block_reduce(sum, math::SumCombine{}, A(0));
    if (threadIdx.x == 0) group_mean = count > 0 ? sum / A(count) : A(0);
    __syncthreads();
    const A m = group_mean;
    A squares = 0;
    walk = GroupWalk(l, threadIdx.x, blockDim.x);
    for (int64_t t = threadIdx.x; t < count; t += blockDim.x, walk.next(l)) {
      const A d = A(x[walk.offset(l, g)]) - m;
      squares += d * d;
    }
    squares = block_reduce(squares, math::SumCombine{}, A(0));
    if (threadIdx.x == 0) {
      mean[g] = T(m);
      var[g] = count > 0 ? T(squares / A(count)) : T(0);
    }
    __syncthreads();  // group_mean is rewritten by the next group
  }
}

// The CPU's two formulas: layer norm (a weight per row position) computes
// (x - mean) * invstd * weight + bias; the others fold the channel's constants into one
// multiply-add (AffineNormalize).
template <class T>
__global__ void apply_kernel(const T* x, const T* mean, const T* var, const T* weight,
                             const T* bias, NormLayout l, T eps, T* y) {
  const int64_t total = l.numel();
  const bool per_position = l.weight_div == 1 && l.weight_mod == 1;
  for (int64_t e = first_index(); e < total; e += grid_stride()) {
    const int64_t slice = e / l.inner, i = e % l.inner;
    const int64_t g = slice % l.groups;
    const T m = mean[g], invstd = math::inverse_std(var[g], eps);
    if (per_position) {
      y[e] = (x[e] - m) * invstd * (weight ? weight[i] : T(1)) + (bias ? bias[i] : T(0));
    } else {
      const int64_t p = l.weight_index(g, i);
      const math::AffineNormalize<T> f(m, invstd, weight ? weight[p] : T(1), bias ? bias[p] : T(0));
      y[e] = f(x[e]);
    }
  }
}

// Training-mode batch norm backward: a block per channel c computes sum(dy) and
// sum(dy * (x - mean)) over the channel, writes dw, db, then dx for each element.
template <class T>
__global__ void __launch_bounds__(kGroupBlockSize)
    batch_norm_backward_impl(const T* dy, const T* x, const T* mean, const T* var, const T* weight,
                             NormLayout l, T eps, T* dx, T* dw, T* db) {
  using A = math::accumulator_t<T>;
  __shared__ A shared_sums[2];
  const int64_t count = l.group_size();
  for (int64_t c = blockIdx.x; c < l.groups; c += gridDim.x) {
    const T m = mean[c], invstd = math::inverse_std(var[c], eps);
    A sum_dy = 0, sum_dy_xmu = 0;
    GroupWalk walk(l, threadIdx.x, blockDim.x);
    for (int64_t t = threadIdx.x; t < count; t += blockDim.x, walk.next(l)) {
      const int64_t at = walk.offset(l, c);
      sum_dy += A(dy[at]);
      sum_dy_xmu += A(dy[at]) * (A(x[at]) - A(m));
    }
    sum_dy = block_reduce(sum_dy, math::SumCombine{}, A(0));
    sum_dy_xmu = block_reduce(sum_dy_xmu, math::SumCombine{}, A(0));
    if (threadIdx.x == 0) {
      shared_sums[0] = sum_dy;
      shared_sums[1] = sum_dy_xmu;
    }
    __syncthreads();
    const A total_dy = shared_sums[0];
    const A sum_dy_xhat = shared_sums[1] * A(invstd);
    if (threadIdx.x == 0) {
      if (dw) dw[c] = T(sum_dy_xhat);
      if (db) db[c] = T(total_dy);
    }
    if (dx) {
      const T w_invstd = (weight ? weight[c] : T(1)) * invstd;
      const T mean_dy = count > 0 ? T(total_dy / A(count)) : T(0);
      const T mean_dy_xhat = count > 0 ? T(sum_dy_xhat / A(count)) : T(0);
      walk = GroupWalk(l, threadIdx.x, blockDim.x);
      for (int64_t t = threadIdx.x; t < count; t += blockDim.x, walk.next(l)) {
        const int64_t at = walk.offset(l, c);
        const T xhat = (x[at] - m) * invstd;
        dx[at] = math::batch_norm_input_grad(dy[at], xhat, w_invstd, mean_dy, mean_dy_xhat);
      }
    }
    __syncthreads();  // shared_sums is rewritten by the next channel
  }
}

// Group / layer norm backward (any layout), part 1: a block per statistics group sums
// dxhat = dy * w and dxhat * xhat over the group, then writes dx.
template <class T>
__global__ void __launch_bounds__(kGroupBlockSize)
    norm_input_grad_kernel(const T* dy, const T* x, const T* mean, const T* var, const T* weight,
                           NormLayout l, T eps, T* dx) {
  using A = math::accumulator_t<T>;
  __shared__ A shared_sums[2];
  const int64_t count = l.group_size();
  for (int64_t g = blockIdx.x; g < l.groups; g += gridDim.x) {
    const T m = mean[g], invstd = math::inverse_std(var[g], eps);
    A a = 0, b = 0;
    GroupWalk walk(l, threadIdx.x, blockDim.x);
    for (int64_t t = threadIdx.x; t < count; t += blockDim.x, walk.next(l)) {
      const int64_t at = walk.offset(l, g);
      const T w = weight ? weight[l.weight_index(g, walk.position)] : T(1);
      const T dxhat = dy[at] * w;
      a += A(dxhat);
      b += A(dxhat) * A((x[at] - m) * invstd);
    }
    a = block_reduce(a, math::SumCombine{}, A(0));
    b = block_reduce(b, math::SumCombine{}, A(0));
    if (threadIdx.x == 0) {
      shared_sums[0] = a;
      shared_sums[1] = b;
    }
    __syncthreads();
    const T mean_a = count > 0 ? T(shared_sums[0] / A(count)) : T(0);
    const T mean_b = count > 0 ? T(shared_sums[1] / A(count)) : T(0);
    walk = GroupWalk(l, threadIdx.x, blockDim.x);
    for (int64_t t = threadIdx.x; t < count; t += blockDim.x, walk.next(l)) {
      const int64_t at = walk.offset(l, g);
      const T w = weight ? weight[l.weight_index(g, walk.position)] : T(1);
      const T xhat = (x[at] - m) * invstd;
      dx[at] = math::batch_norm_input_grad(dy[at] * w, xhat, invstd, mean_a, mean_b);
    }
    __syncthreads();  // shared_sums is rewritten by the next group
  }
}

// Part 2: a block per affine parameter p sums dy and dy * xhat over every element whose
// weight index is p. Those are, for each residue q of the group modulo weight_mod, the
// positions i in [p * weight_div - q * inner, (p + 1) * weight_div - q * inner) of the
// groups g = q, q + weight_mod, ... (of every outer slice). The block's threads take those
// elements in turn (position fastest, then outer slice, then group), so a parameter that
// covers a run of positions (group norm: a channel's pixels) is read along the run; for
// layer norm (weight_mod = 1, one position per row) neighbouring blocks read neighbouring
// positions. (A thread per parameter would leave the GPU almost idle: a few hundred threads
// each summing a whole batch.)
template <class T>
__global__ void norm_param_grad_kernel(const T* dy, const T* x, const T* mean, const T* var,
                                       NormLayout l, T eps, T* dw, T* db) {
  using A = math::accumulator_t<T>;
  const int64_t params = l.weight_count();
  for (int64_t p = blockIdx.x; p < params; p += gridDim.x) {
    A sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t q = 0; q < l.weight_mod; ++q) {
      int64_t lo = p * l.weight_div - q * l.inner, hi = lo + l.weight_div;
      lo = lo > 0 ? lo : 0;
      hi = hi < l.inner ? hi : l.inner;
      if (lo >= hi || q >= l.groups) continue;
      const int64_t width = hi - lo;
      const int64_t group_count = (l.groups - q + l.weight_mod - 1) / l.weight_mod;
      const int64_t count = group_count * l.outer * width;
      for (int64_t t = threadIdx.x; t < count; t += blockDim.x) {
        const int64_t i = lo + t % width, rest = t / width;
        const int64_t o = rest % l.outer, g = q + rest / l.outer * l.weight_mod;
        const int64_t at = (o * l.groups + g) * l.inner + i;
        const T invstd = math::inverse_std(var[g], eps);
        sum_dy += A(dy[at]);
        sum_dy_xhat += A(dy[at]) * A((x[at] - mean[g]) * invstd);
      }
    }
    sum_dy = block_reduce(sum_dy, math::SumCombine{}, A(0));
    sum_dy_xhat = block_reduce(sum_dy_xhat, math::SumCombine{}, A(0));
    if (threadIdx.x == 0) {
      if (dw) dw[p] = T(sum_dy_xhat);
      if (db) db[p] = T(sum_dy);
    }
  }
}

template <class T>
const T* optional_data(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}
template <class T>
T* optional_output(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

int group_threads(const NormLayout& l) {
  return l.group_size() >= kLargeGroup ? kGroupBlockSize : kBlockSize;
}

}  // namespace

void norm_moments_kernel(const Tensor& input, const NormLayout& layout, const Tensor& mean,
                         const Tensor& var) {
  if (layout.groups == 0) return;
  DeviceGuard guard(mean.device().index);
  visit_floating(input.dtype(), "norm_moments", [&](auto tag) {
    using T = decltype(tag);
    moments_kernel<<<block_per_item(layout.groups), group_threads(layout), 0, current_stream()>>>(
        input.data_ptr<T>(), layout, mean.data_ptr<T>(), var.data_ptr<T>());
    KITE_CUDA_CHECK_LAUNCH();
  });
}

void norm_apply_kernel(const Tensor& input, const Tensor& mean, const Tensor& var,
                       const Tensor& weight, const Tensor& bias, const NormLayout& layout,
                       double eps, const Tensor& output) {
  if (layout.numel() == 0) return;
  DeviceGuard guard(output.device().index);
  visit_floating(input.dtype(), "norm_apply", [&](auto tag) {
    using T = decltype(tag);
    apply_kernel<<<grid_for(layout.numel()), kBlockSize, 0, current_stream()>>>(
        input.data_ptr<T>(), mean.data_ptr<T>(), var.data_ptr<T>(), optional_data<T>(weight),
        optional_data<T>(bias), layout, T(eps), output.data_ptr<T>());
    KITE_CUDA_CHECK_LAUNCH();
  });
}

void batch_norm_backward_kernel(const Tensor& grad_output, const Tensor& input, const Tensor& mean,
                                const Tensor& var, const Tensor& weight, const NormLayout& layout,
                                double eps, const Tensor& grad_input, const Tensor& grad_weight,
                                const Tensor& grad_bias) {
  if (layout.groups == 0) return;
  DeviceGuard guard(input.device().index);
  visit_floating(input.dtype(), "batch_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    batch_norm_backward_impl<<<block_per_item(layout.groups), group_threads(layout), 0,
                               current_stream()>>>(
        grad_output.data_ptr<T>(), input.data_ptr<T>(), mean.data_ptr<T>(), var.data_ptr<T>(),
        optional_data<T>(weight), layout, T(eps), optional_output<T>(grad_input),
        optional_output<T>(grad_weight), optional_output<T>(grad_bias));
    KITE_CUDA_CHECK_LAUNCH();
  });
}

void norm_backward_kernel(const Tensor& grad_output, const Tensor& input, const Tensor& mean,
                          const Tensor& var, const Tensor& weight, const NormLayout& layout,
                          double eps, const Tensor& grad_input, const Tensor& grad_weight,
                          const Tensor& grad_bias) {
  DeviceGuard guard(input.device().index);
  visit_floating(input.dtype(), "norm_backward", [&](auto tag) {
    using T = decltype(tag);
    const cudaStream_t stream = current_stream();
    if (grad_input.defined() && layout.groups > 0) {
      norm_input_grad_kernel<<<block_per_item(layout.groups), group_threads(layout), 0, stream>>>(
          grad_output.data_ptr<T>(), input.data_ptr<T>(), mean.data_ptr<T>(), var.data_ptr<T>(),
          optional_data<T>(weight), layout, T(eps), grad_input.data_ptr<T>());
      KITE_CUDA_CHECK_LAUNCH();
    }
    const int64_t params = layout.weight_count();
    if ((grad_weight.defined() || grad_bias.defined()) && params > 0) {
      norm_param_grad_kernel<<<block_per_item(params), kBlockSize, 0, stream>>>(
          grad_output.data_ptr<T>(), input.data_ptr<T>(), mean.data_ptr<T>(), var.data_ptr<T>(),
          layout, T(eps), optional_output<T>(grad_weight), optional_output<T>(grad_bias));
      KITE_CUDA_CHECK_LAUNCH();
    }
  });
}

}  // namespace kite::cuda
