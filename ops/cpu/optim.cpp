// CPU kernels of the fused optimizer updates: one pass over (param, grad, state) per
// parameter, threaded with OpenMP for large tensors, and the two passes of the norm clip.
//
// The element arithmetic is in ops/math/optim.h; these loops only walk flat arrays (the
// public functions guarantee contiguous tensors of one dtype).
#include "ops/cpu/optim.h"

#include <vector>

#include "engine/parallel.h"

namespace kite::cpu {
namespace {

// Below this many elements a thread team costs more than it saves.
constexpr int64_t kParallelThreshold = 32768;
// The sum of squares adds fixed-size blocks and then the block sums in order, so the result
// does not depend on the number of threads (runs stay reproducible across machines).
constexpr int64_t kSumBlock = 8192;

template <class T>
void sgd_loop(T* param, const T* grad, T* buffer, int64_t n, const SgdScalars& scalars) {
  const SgdUpdate<T> update(scalars);
  parallel_range(n, n > kParallelThreshold, [&](int64_t begin, int64_t end) {
    if (buffer == nullptr) {
      for (int64_t i = begin; i < end; ++i) update(param[i], grad[i]);
    } else {
      for (int64_t i = begin; i < end; ++i) update(param[i], grad[i], buffer[i]);
    }
  });
}

template <class T>
void adam_loop(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n,
               const AdamScalars& scalars) {
  const AdamUpdate<T> update(scalars);
  parallel_range(n, n > kParallelThreshold, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) update(param[i], grad[i], exp_avg[i], exp_avg_sq[i]);
  });
}

template <class T>
double sum_of_squares_loop(const T* x, int64_t n) {
  const int64_t blocks = (n + kSumBlock - 1) / kSumBlock;
  std::vector<double> partial(blocks, 0.0);
  parallel_range(blocks, n > kParallelThreshold, [&](int64_t first_block, int64_t last_block) {
    for (int64_t b = first_block; b < last_block; ++b) {
      const int64_t begin = b * kSumBlock;
      const int64_t end = begin + kSumBlock < n ? begin + kSumBlock : n;
      double acc = 0.0;
      for (int64_t i = begin; i < end; ++i) acc += squared_as_double(x[i]);
      partial[b] = acc;
    }
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

template <class T>
void scale_loop(T* x, int64_t n, T factor) {
  parallel_range(n, n > kParallelThreshold, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) x[i] *= factor;
  });
}

}  // namespace

void sgd_step_kernel(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                     const SgdScalars& scalars) {
  visit_floating(param.dtype(), "sgd_step_", [&](auto tag) {
    using T = decltype(tag);
    T* buffer = momentum_buffer.defined() ? momentum_buffer.data_ptr<T>() : nullptr;
    sgd_loop(param.data_ptr<T>(), grad.data_ptr<T>(), buffer, param.numel(), scalars);
  });
}

void adam_step_kernel(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                      const Tensor& exp_avg_sq, const AdamScalars& scalars) {
  visit_floating(param.dtype(), "adam_step_", [&](auto tag) {
    using T = decltype(tag);
    adam_loop(param.data_ptr<T>(), grad.data_ptr<T>(), exp_avg.data_ptr<T>(),
              exp_avg_sq.data_ptr<T>(), param.numel(), scalars);
  });
}

double sum_of_squares_kernel(const Tensor& x) {
  return visit_floating(x.dtype(), "clip_grad_norm_", [&](auto tag) {
    using T = decltype(tag);
    return sum_of_squares_loop(x.data_ptr<T>(), x.numel());
  });
}

void scale_kernel(const Tensor& x, double factor) {
  visit_floating(x.dtype(), "clip_grad_norm_", [&](auto tag) {
    using T = decltype(tag);
    scale_loop(x.data_ptr<T>(), x.numel(), static_cast<T>(factor));
  });
}

}  // namespace kite::cpu
