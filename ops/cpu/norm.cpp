// CPU normalisation kernels. The input is [outer, groups, inner] (ops/math/norm.h); group g's
// elements are `outer` contiguous runs of `inner` values, at x + (o * groups + g) * inner.
// Sums accumulate in double for float32 (accumulator_t), and the variance is taken around
// the mean in a second pass, which avoids the cancellation of E[x^2] - E[x]^2.
#include "ops/cpu/norm.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "engine/dtype.h"
#include "engine/parallel.h"
#include "ops/math/reduce.h"

namespace kite::cpu {
namespace {

using math::NormLayout;

constexpr int64_t kParallelMinElements = 32768;

template <class T>
const T* optional_data(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

template <class T>
void moments(const Tensor& input, const NormLayout& l, const Tensor& mean_out,
             const Tensor& var_out) {
  using Acc = math::accumulator_t<T>;
  const T* x = input.data_ptr<T>();
  T* mean = mean_out.data_ptr<T>();
  T* var = var_out.data_ptr<T>();
  const int64_t count = l.group_size();
  parallel_range(l.groups, l.numel() >= kParallelMinElements, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g) {
      Acc sum = 0;
      for (int64_t o = 0; o < l.outer; ++o) {
        const T* run = x + (o * l.groups + g) * l.inner;
#pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < l.inner; ++i) sum += Acc(run[i]);
      }
      const Acc m = count > 0 ? sum / Acc(count) : Acc(0);
      Acc squares = 0;
      for (int64_t o = 0; o < l.outer; ++o) {
        const T* run = x + (o * l.groups + g) * l.inner;
#pragma omp simd reduction(+ : squares)
        for (int64_t i = 0; i < l.inner; ++i) {
          const Acc d = Acc(run[i]) - m;
          squares += d * d;
        }
      }
      mean[g] = T(m);
      var[g] = count > 0 ? T(squares / Acc(count)) : T(0);
    }
  });
}

template <class T>
void apply(const Tensor& input, const Tensor& mean_in, const Tensor& var_in,
           const Tensor& weight_in, const Tensor& bias_in, const NormLayout& l, double eps,
           const Tensor& output) {
  const T* x = input.data_ptr<T>();
  const T* mean = mean_in.data_ptr<T>();
  const T* var = var_in.data_ptr<T>();
  const T* weight = optional_data<T>(weight_in);
  const T* bias = optional_data<T>(bias_in);
  T* y = output.data_ptr<T>();
  const int64_t slices = l.outer * l.groups;
  parallel_range(slices, l.numel() >= kParallelMinElements, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      const int64_t g = s % l.groups;
      const T m = mean[g], invstd = math::inverse_std(var[g], T(eps));
      const T* xs = x + s * l.inner;
      T* ys = y + s * l.inner;
      if (l.weight_div == 1 && l.weight_mod == 1) {
        // Layer norm: a different weight for every position of the row.
#pragma omp simd
        for (int64_t i = 0; i < l.inner; ++i)
          ys[i] = (xs[i] - m) * invstd * (weight ? weight[i] : T(1)) + (bias ? bias[i] : T(0));
        continue;
      }
      // Otherwise the weight is constant over runs of weight_div elements (one channel).
      const int64_t base = (g % l.weight_mod) * l.inner;
      for (int64_t i = 0; i < l.inner;) {
        const int64_t p = (base + i) / l.weight_div;
        const int64_t run_end = std::min(l.inner, (p + 1) * l.weight_div - base);
        const math::AffineNormalize<T> f(m, invstd, weight ? weight[p] : T(1),
                                         bias ? bias[p] : T(0));
#pragma omp simd
        for (int64_t j = i; j < run_end; ++j) ys[j] = f(xs[j]);
        i = run_end;
      }
    }
  });
}

template <class T>
void batch_norm_backward(const Tensor& grad_output, const Tensor& input, const Tensor& mean_in,
                         const Tensor& var_in, const Tensor& weight_in, const NormLayout& l,
                         double eps, const Tensor& grad_input, const Tensor& grad_weight,
                         const Tensor& grad_bias) {
  using Acc = math::accumulator_t<T>;
  const T* dy = grad_output.data_ptr<T>();
  const T* x = input.data_ptr<T>();
  const T* mean = mean_in.data_ptr<T>();
  const T* var = var_in.data_ptr<T>();
  const T* weight = optional_data<T>(weight_in);
  T* dx = grad_input.defined() ? grad_input.data_ptr<T>() : nullptr;
  T* dw = grad_weight.defined() ? grad_weight.data_ptr<T>() : nullptr;
  T* db = grad_bias.defined() ? grad_bias.data_ptr<T>() : nullptr;
  const int64_t count = l.group_size();
  parallel_range(l.groups, l.numel() >= kParallelMinElements, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const T m = mean[c], invstd = math::inverse_std(var[c], T(eps));
      Acc sum_dy = 0, sum_dy_xmu = 0;
      for (int64_t o = 0; o < l.outer; ++o) {
        const int64_t at = (o * l.groups + c) * l.inner;
#pragma omp simd reduction(+ : sum_dy, sum_dy_xmu)
        for (int64_t i = 0; i < l.inner; ++i) {
          sum_dy += Acc(dy[at + i]);
          sum_dy_xmu += Acc(dy[at + i]) * (Acc(x[at + i]) - Acc(m));
        }
      }
      const Acc sum_dy_xhat = sum_dy_xmu * Acc(invstd);
      if (dw) dw[c] = T(sum_dy_xhat);
      if (db) db[c] = T(sum_dy);
      if (!dx) continue;
      const T w_invstd = (weight ? weight[c] : T(1)) * invstd;
      const T mean_dy = count > 0 ? T(sum_dy / Acc(count)) : T(0);
      const T mean_dy_xhat = count > 0 ? T(sum_dy_xhat / Acc(count)) : T(0);
      for (int64_t o = 0; o < l.outer; ++o) {
        const int64_t at = (o * l.groups + c) * l.inner;
#pragma omp simd
        for (int64_t i = 0; i < l.inner; ++i) {
          const T xhat = (x[at + i] - m) * invstd;
          dx[at + i] =
              math::batch_norm_input_grad(dy[at + i], xhat, w_invstd, mean_dy, mean_dy_xhat);
        }
      }
    }
  });
}

// Any layout: per statistics group, the sums of dxhat = dy * w and dxhat * xhat give dx;
// the parameter gradients sum dy * xhat and dy over every element with the same weight index,
// which spans many groups (all rows for layer norm), so each thread sums into its own
// accumulators, added up at the end.
template <class T>
void norm_backward(const Tensor& grad_output, const Tensor& input, const Tensor& mean_in,
                   const Tensor& var_in, const Tensor& weight_in, const NormLayout& l, double eps,
                   const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias) {
  using Acc = math::accumulator_t<T>;
  const T* dy = grad_output.data_ptr<T>();
  const T* x = input.data_ptr<T>();
  const T* mean = mean_in.data_ptr<T>();
  const T* var = var_in.data_ptr<T>();
  const T* weight = optional_data<T>(weight_in);
  T* dx = grad_input.defined() ? grad_input.data_ptr<T>() : nullptr;
  T* dw = grad_weight.defined() ? grad_weight.data_ptr<T>() : nullptr;
  T* db = grad_bias.defined() ? grad_bias.data_ptr<T>() : nullptr;
  const int64_t count = l.group_size(), params = l.weight_count();
  const bool per_element = l.weight_mod == 1 && l.weight_div == 1;  // layer norm
  const bool parallel = l.numel() >= kParallelMinElements;
  const int threads = parallel ? omp_get_max_threads() : 1;
  std::vector<Acc> sums(static_cast<size_t>(threads) * 2 * params, Acc(0));
  // Each thread of parallel_range's region sums into its own accumulators; when the loop runs
  // on the calling thread instead, into the first ones (the caller may itself be a thread of
  // some outer region, whose thread number is not a slot here).
  const int caller_level = omp_get_level();
  parallel_range(l.groups, parallel, [&](int64_t begin, int64_t end) {
    const int slot = omp_get_level() > caller_level ? omp_get_thread_num() : 0;
    Acc* sum_dy_xhat = sums.data() + size_t(slot) * 2 * params;
    Acc* sum_dy = sum_dy_xhat + params;
    for (int64_t g = begin; g < end; ++g) {
      const T m = mean[g], invstd = math::inverse_std(var[g], T(eps));
      const int64_t base = (g % l.weight_mod) * l.inner;
      Acc a = 0, b = 0;  // sums of dxhat and dxhat * xhat over the group
      for (int64_t o = 0; o < l.outer; ++o) {
        const int64_t at = (o * l.groups + g) * l.inner;
        const T* dys = dy + at;
        const T* xs = x + at;
        if (per_element) {
#pragma omp simd reduction(+ : a, b)
          for (int64_t i = 0; i < l.inner; ++i) {
            const T xhat = (xs[i] - m) * invstd;
            const T dxhat = dys[i] * (weight ? weight[i] : T(1));
            a += Acc(dxhat);
            b += Acc(dxhat) * Acc(xhat);
            sum_dy_xhat[i] += Acc(dys[i]) * Acc(xhat);
            sum_dy[i] += Acc(dys[i]);
          }
          continue;
        }
        for (int64_t i = 0; i < l.inner;) {  // runs of one weight index
          const int64_t p = (base + i) / l.weight_div;
          const int64_t run_end = std::min(l.inner, (p + 1) * l.weight_div - base);
          Acc run_dy = 0, run_dy_xhat = 0;
#pragma omp simd reduction(+ : run_dy, run_dy_xhat)
          for (int64_t j = i; j < run_end; ++j) {
            run_dy += Acc(dys[j]);
            run_dy_xhat += Acc(dys[j]) * Acc((xs[j] - m) * invstd);
          }
          const Acc w = weight ? Acc(weight[p]) : Acc(1);
          a += w * run_dy;
          b += w * run_dy_xhat;
          sum_dy[p] += run_dy;
          sum_dy_xhat[p] += run_dy_xhat;
          i = run_end;
        }
      }
      if (!dx) continue;
      const T mean_a = count > 0 ? T(a / Acc(count)) : T(0);
      const T mean_b = count > 0 ? T(b / Acc(count)) : T(0);
      for (int64_t o = 0; o < l.outer; ++o) {
        const int64_t at = (o * l.groups + g) * l.inner;
        for (int64_t i = 0; i < l.inner;) {
          const int64_t p = per_element ? i : (base + i) / l.weight_div;
          const int64_t run_end =
              per_element ? l.inner : std::min(l.inner, (p + 1) * l.weight_div - base);
#pragma omp simd
          for (int64_t j = i; j < run_end; ++j) {
            const T w = weight ? weight[per_element ? j : p] : T(1);
            const T xhat = (x[at + j] - m) * invstd;
            dx[at + j] = math::batch_norm_input_grad(dy[at + j] * w, xhat, invstd, mean_a, mean_b);
          }
          i = run_end;
        }
      }
    }
  });
  for (int64_t p = 0; p < params; ++p) {
    Acc w = 0, b = 0;
    for (int t = 0; t < threads; ++t) {
      w += sums[size_t(t) * 2 * params + p];
      b += sums[size_t(t) * 2 * params + params + p];
    }
    if (dw) dw[p] = T(w);
    if (db) db[p] = T(b);
  }
}

}  // namespace

void norm_moments_kernel(const Tensor& input, const NormLayout& layout, const Tensor& mean,
                         const Tensor& var) {
  visit_floating(input.dtype(), "norm_moments",
                 [&](auto tag) { moments<decltype(tag)>(input, layout, mean, var); });
}

void norm_apply_kernel(const Tensor& input, const Tensor& mean, const Tensor& var,
                       const Tensor& weight, const Tensor& bias, const NormLayout& layout,
                       double eps, const Tensor& output) {
  visit_floating(input.dtype(), "norm_apply", [&](auto tag) {
    apply<decltype(tag)>(input, mean, var, weight, bias, layout, eps, output);
  });
}

void batch_norm_backward_kernel(const Tensor& grad_output, const Tensor& input, const Tensor& mean,
                                const Tensor& var, const Tensor& weight, const NormLayout& layout,
                                double eps, const Tensor& grad_input, const Tensor& grad_weight,
                                const Tensor& grad_bias) {
  visit_floating(input.dtype(), "batch_norm_backward", [&](auto tag) {
    batch_norm_backward<decltype(tag)>(grad_output, input, mean, var, weight, layout, eps,
                                       grad_input, grad_weight, grad_bias);
  });
}

void norm_backward_kernel(const Tensor& grad_output, const Tensor& input, const Tensor& mean,
                          const Tensor& var, const Tensor& weight, const NormLayout& layout,
                          double eps, const Tensor& grad_input, const Tensor& grad_weight,
                          const Tensor& grad_bias) {
  visit_floating(input.dtype(), "norm_backward", [&](auto tag) {
    norm_backward<decltype(tag)>(grad_output, input, mean, var, weight, layout, eps, grad_input,
                                 grad_weight, grad_bias);
  });
}

}  // namespace kite::cpu
