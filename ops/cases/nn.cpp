// Gradient-check rows for the spatial and normalisation ops (ops/conv.h, ops/pool.h,
// ops/upsample.h, ops/norm.h): stride, asymmetric padding, dilation, groups, rectangular and
// 1x1 kernels, odd sizes, ceil_mode, count_include_pad, both align_corners, and batch norm in
// training (with and without running statistics) and evaluation.
//
// Every backward of these ops is itself an op with a backward, so every row asks for the
// second-order check. Max pooling is checked on random normal inputs, which have no ties,
// so finite differences never move the chosen element.
#include <cmath>

#include "ops/cases/op_cases.h"
#include "ops/conv.h"
#include "ops/factory.h"
#include "ops/norm.h"
#include "ops/pool.h"
#include "ops/upsample.h"

namespace kite {
namespace {

using Inputs = std::vector<Tensor>;

// A fixed, tie-free float64 tensor (offset + (0.37 i mod 1.9)), for inputs that must
// not be perturbed: running statistics, the maxima positions of max_pool2d_backward.
Tensor fixed_values(const Shape& shape, double offset, const Tensor& like) {
  std::vector<double> v(numel_of(shape));
  for (size_t i = 0; i < v.size(); ++i) v[i] = offset + std::fmod(double(i) * 0.37, 1.9);
  return constant_like(v, shape, like);
}

void add_conv_cases(std::vector<OpCase>& rows) {
  rows.push_back({"conv2d",
                  "conv2d/3x3_pad1_bias",
                  {{{2, 3, 5, 5}}, {{4, 3, 3, 3}}, {{4}}},
                  [](const Inputs& x) { return conv2d(x[0], x[1], x[2], {.padding = 1}); },
                  true});
  rows.push_back(
      {"conv2d",
       "conv2d/stride_asym_pad_dilation_groups",
       {{{1, 4, 7, 6}}, {{6, 2, 3, 2}}},
       [](const Inputs& x) {
         return conv2d(
             x[0], x[1], {},
             {.stride = {2, 1}, .padding = {1, 2, 0, 1}, .dilation = {2, 1}, .groups = 2});
       },
       true});
  rows.push_back({"conv2d",
                  "conv2d/1x3_rect_bias",
                  {{{1, 2, 4, 5}}, {{3, 2, 1, 3}}, {{3}}},
                  [](const Inputs& x) {
                    return conv2d(x[0], x[1], x[2], {.padding = {0, 1}});
                  },
                  true});
  rows.push_back({"conv2d",
                  "conv2d/pointwise_bias",
                  {{{2, 3, 3, 4}}, {{5, 3, 1, 1}}, {{5}}},
                  [](const Inputs& x) { return conv2d(x[0], x[1], x[2]); },
                  true});
  rows.push_back({"conv2d",
                  "conv2d/depthwise_stride2",
                  {{{1, 3, 6, 6}}, {{3, 1, 3, 3}}},
                  [](const Inputs& x) {
                    return conv2d(x[0], x[1], {}, {.stride = 2, .padding = 1, .groups = 3});
                  },
                  true});
  rows.push_back({"conv2d",
                  "conv2d/stride3_odd_size",
                  {{{1, 2, 8, 7}}, {{2, 2, 3, 3}}},
                  [](const Inputs& x) { return conv2d(x[0], x[1], {}, {.stride = 3}); },
                  true});
  rows.push_back({"conv2d",
                  "conv2d/one_output_channel_direct",
                  {{{2, 3, 5, 4}}, {{1, 3, 3, 2}}, {{1}}},
                  [](const Inputs& x) {
                    return conv2d(x[0], x[1], x[2], {.padding = {1, 0, 1, 1}, .dilation = {1, 2}});
                  },
                  true});
  rows.push_back(
      {"conv2d",
       "conv2d/depthwise_stride1_direct",
       {{{1, 2, 4, 4}}, {{2, 1, 3, 3}}},
       [](const Inputs& x) { return conv2d(x[0], x[1], {}, {.padding = 1, .groups = 2}); },
       true});
  rows.push_back({"conv2d",
                  "conv2d/pointwise_stride2",
                  {{{1, 2, 5, 5}}, {{3, 2, 1, 1}}},
                  [](const Inputs& x) { return conv2d(x[0], x[1], {}, {.stride = 2}); },
                  true});

  rows.push_back({"conv_transpose2d",
                  "conv_transpose2d/stride2_outpad1_bias",
                  {{{2, 3, 3, 3}}, {{3, 2, 3, 3}}, {{2}}},
                  [](const Inputs& x) {
                    return conv_transpose2d(x[0], x[1], x[2],
                                            {.stride = 2, .padding = 1, .output_padding = 1});
                  },
                  true});
  rows.push_back(
      {"conv_transpose2d",
       "conv_transpose2d/groups_dilation_asym_pad",
       {{{1, 4, 3, 4}}, {{4, 1, 2, 3}}},
       [](const Inputs& x) {
         return conv_transpose2d(
             x[0], x[1], {},
             {.stride = {1, 2}, .padding = {0, 1, 1, 0}, .dilation = {1, 2}, .groups = 2});
       },
       true});

  rows.push_back({"conv2d_weight_grad",
                  "conv2d_weight_grad/3x3",
                  {{{2, 2, 5, 5}}, {{2, 3, 3, 3}}},
                  [](const Inputs& x) {
                    return conv2d_weight_grad(x[0], x[1], {3, 2, 3, 3});
                  },
                  true});
  rows.push_back({"conv2d_weight_grad",
                  "conv2d_weight_grad/stride2_pad1_groups2",
                  {{{1, 4, 5, 6}}, {{1, 2, 3, 3}}},
                  [](const Inputs& x) {
                    return conv2d_weight_grad(x[0], x[1], {2, 2, 3, 3},
                                              {.stride = 2, .padding = 1, .groups = 2});
                  },
                  true});
}

void add_pool_cases(std::vector<OpCase>& rows) {
  rows.push_back({"max_pool2d",
                  "max_pool2d/2x2",
                  {{{2, 2, 4, 4}}},
                  [](const Inputs& x) { return max_pool2d(x[0], {.kernel = 2}); },
                  true});
  rows.push_back({"max_pool2d",
                  "max_pool2d/3x3_s2_p1_ceil",
                  {{{1, 2, 5, 6}}},
                  [](const Inputs& x) {
                    return max_pool2d(x[0],
                                      {.kernel = 3, .stride = 2, .padding = 1, .ceil_mode = true});
                  },
                  true});
  rows.push_back({"max_pool2d",
                  "max_pool2d/dilation2_rect",
                  {{{1, 1, 5, 6}}},
                  [](const Inputs& x) {
                    return max_pool2d(x[0], {.kernel = {2, 3}, .stride = 1, .dilation = 2});
                  },
                  true});
  rows.push_back({"max_pool2d_backward",
                  "max_pool2d_backward/3x3_s2",
                  {{{1, 2, 2, 3}}},
                  [](const Inputs& x) {
                    const Tensor indices =
                        max_pool2d_with_indices(fixed_values({1, 2, 5, 7}, 0.0, x[0]),
                                                {.kernel = 3, .stride = 2})
                            .indices;
                    return max_pool2d_backward(x[0], indices, {1, 2, 5, 7});
                  },
                  true});

  rows.push_back({"avg_pool2d",
                  "avg_pool2d/2x2",
                  {{{2, 1, 4, 4}}},
                  [](const Inputs& x) { return avg_pool2d(x[0], {.kernel = 2}); },
                  true});
  rows.push_back({"avg_pool2d",
                  "avg_pool2d/3x3_s1_p1_exclude_pad",
                  {{{1, 2, 4, 5}}},
                  [](const Inputs& x) {
                    return avg_pool2d(
                        x[0], {.kernel = 3, .stride = 1, .padding = 1, .count_include_pad = false});
                  },
                  true});
  rows.push_back({"avg_pool2d",
                  "avg_pool2d/3x3_s2_p1_ceil_include_pad",
                  {{{1, 2, 6, 5}}},
                  [](const Inputs& x) {
                    return avg_pool2d(x[0],
                                      {.kernel = 3, .stride = 2, .padding = 1, .ceil_mode = true});
                  },
                  true});
  rows.push_back({"avg_pool2d_backward",
                  "avg_pool2d_backward/3x3_s2_p1",
                  {{{1, 2, 3, 3}}},
                  [](const Inputs& x) {
                    return avg_pool2d_backward(
                        x[0], {1, 2, 5, 6},
                        {.kernel = 3, .stride = 2, .padding = 1, .count_include_pad = false});
                  },
                  true});

  rows.push_back({"adaptive_avg_pool2d",
                  "adaptive_avg_pool2d/7x5_to_3x2",
                  {{{1, 2, 7, 5}}},
                  [](const Inputs& x) {
                    return adaptive_avg_pool2d(x[0], {3, 2});
                  },
                  true});
  rows.push_back({"adaptive_avg_pool2d",
                  "adaptive_avg_pool2d/global",
                  {{{2, 3, 4, 4}}},
                  [](const Inputs& x) { return adaptive_avg_pool2d(x[0], 1); },
                  true});
  rows.push_back({"adaptive_avg_pool2d_backward",
                  "adaptive_avg_pool2d_backward/5x4_to_2x3",
                  {{{1, 2, 2, 3}}},
                  [](const Inputs& x) {
                    return adaptive_avg_pool2d_backward(x[0], {1, 2, 5, 4});
                  },
                  true});
}

void add_upsample_cases(std::vector<OpCase>& rows) {
  rows.push_back({"upsample_nearest2d",
                  "upsample_nearest2d/2x3",
                  {{{1, 2, 3, 2}}},
                  [](const Inputs& x) {
                    return upsample_nearest2d(x[0], {2, 3});
                  },
                  true});
  rows.push_back({"upsample_bilinear2d",
                  "upsample_bilinear2d/up_half_pixel",
                  {{{1, 2, 3, 4}}},
                  [](const Inputs& x) {
                    return upsample_bilinear2d(x[0], {5, 7}, false);
                  },
                  true});
  rows.push_back({"upsample_bilinear2d",
                  "upsample_bilinear2d/up_align_corners",
                  {{{1, 1, 3, 4}}},
                  [](const Inputs& x) {
                    return upsample_bilinear2d(x[0], {6, 5}, true);
                  },
                  true});
  rows.push_back({"upsample_bilinear2d",
                  "upsample_bilinear2d/down_half_pixel",
                  {{{1, 1, 7, 6}}},
                  [](const Inputs& x) {
                    return upsample_bilinear2d(x[0], {3, 4}, false);
                  },
                  true});
  rows.push_back({"upsample_bilinear2d_backward",
                  "upsample_bilinear2d_backward/3x4_to_5x7",
                  {{{1, 2, 5, 7}}},
                  [](const Inputs& x) {
                    return upsample_bilinear2d_backward(x[0], {1, 2, 3, 4}, false);
                  },
                  true});
}

void add_norm_cases(std::vector<OpCase>& rows) {
  rows.push_back({"batch_norm",
                  "batch_norm/train_affine",
                  {{{4, 3, 2, 2}}, {{3}}, {{3}}},
                  [](const Inputs& x) { return batch_norm(x[0], x[1], x[2], {}, {}, true); },
                  true});
  rows.push_back({"batch_norm",
                  "batch_norm/train_1d_no_affine",
                  {{{5, 2}}},
                  [](const Inputs& x) { return batch_norm(x[0], {}, {}, {}, {}, true); },
                  true});
  rows.push_back({"batch_norm",
                  "batch_norm/train_running_stats",
                  {{{3, 2, 3}}, {{2}}, {{2}}},
                  [](const Inputs& x) {
                    // Fresh running statistics per call, so every evaluation sees the same ones.
                    return batch_norm(x[0], x[1], x[2], fixed_values({2}, 0.1, x[0]),
                                      fixed_values({2}, 0.5, x[0]), true, 0.2, 1e-3);
                  },
                  true});
  rows.push_back({"batch_norm",
                  "batch_norm/eval",
                  {{{2, 3, 2, 3}}, {{3}}, {{3}}},
                  [](const Inputs& x) {
                    return batch_norm(x[0], x[1], x[2], fixed_values({3}, -0.3, x[0]),
                                      fixed_values({3}, 0.4, x[0]), false);
                  },
                  true});
  rows.push_back({"group_norm",
                  "group_norm/2_groups_affine",
                  {{{2, 4, 3, 2}}, {{4}}, {{4}}},
                  [](const Inputs& x) { return group_norm(x[0], 2, x[1], x[2]); },
                  true});
  rows.push_back({"group_norm",
                  "group_norm/1_group_3d",
                  {{{2, 3, 4}}},
                  [](const Inputs& x) { return group_norm(x[0], 1); },
                  true});
  rows.push_back({"layer_norm",
                  "layer_norm/rows_affine",
                  {{{3, 4}}, {{4}}, {{4}}},
                  [](const Inputs& x) { return layer_norm(x[0], {4}, x[1], x[2]); },
                  true});
  rows.push_back({"layer_norm",
                  "layer_norm/last_two_axes_weight",
                  {{{2, 3, 2, 2}}, {{2, 2}}},
                  [](const Inputs& x) {
                    return layer_norm(x[0], {2, 2}, x[1]);
                  },
                  true});
  rows.push_back({"layer_norm",
                  "layer_norm/bias_only",
                  {{{3, 2, 2}}, {{2, 2}}},
                  [](const Inputs& x) {
                    return layer_norm(x[0], {2, 2}, {}, x[1]);
                  },
                  true});
  rows.push_back({"group_norm",
                  "group_norm/bias_only",
                  {{{2, 4, 3}}, {{4}}},
                  [](const Inputs& x) { return group_norm(x[0], 2, {}, x[1]); },
                  true});
  rows.push_back({"layer_norm",
                  "layer_norm/whole_tensor",
                  {{{2, 3}}, {{2, 3}}, {{2, 3}}},
                  [](const Inputs& x) {
                    return layer_norm(x[0], {2, 3}, x[1], x[2]);
                  },
                  true});
}

}  // namespace

std::vector<OpCase> nn_op_cases() {
  std::vector<OpCase> rows;
  add_conv_cases(rows);
  add_pool_cases(rows);
  add_upsample_cases(rows);
  add_norm_cases(rows);
  return rows;
}

}  // namespace kite
