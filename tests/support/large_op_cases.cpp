// The large-shape parity rows (see large_op_cases.h). Each comment names the kernel path the
// row is sized for (cuda/reduce.cu, cuda/norm.cu, cuda/lu.cu, cuda/conv.cu).
#include "large_op_cases.h"

#include <cmath>

#include "ops/det.h"
#include "ops/ops.h"

namespace kite::test_support {
namespace {

using Inputs = std::vector<Tensor>;

// x + shift * I: random normal matrices have eigenvalues in a disk of radius about sqrt(n),
// so a shift of 2 sqrt(n) keeps them well conditioned.
Tensor well_conditioned(const Tensor& x) {
  const int64_t n = x.shape().back();
  std::vector<double> shift(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) shift[i * n + i] = 2.0 * std::sqrt(double(n));
  return x + constant_like(shift, {n, n}, x);
}

}  // namespace

std::vector<OpCase> large_op_cases() {
  std::vector<OpCase> rows;
  // Reductions: contiguous rows longer than a block's piece, few of them (pass 1 in pieces,
  // then a warp per output combines them).
  rows.push_back({"sum", "sum/3_rows_of_50000", {{{3, 50000}}}, [](const Inputs& x) {
                    return sum(x[0], {1});
                  }});
  rows.push_back(
      {"sum", "sum/all_of_300000", {{{300000}}}, [](const Inputs& x) { return sum(x[0]); }});
  rows.push_back({"amax", "amax/2_rows_of_20000", {{{2, 20000}}}, [](const Inputs& x) {
                    return amax(x[0], {1});
                  }});
  // Columns: few outputs, a long reduced axis cut into pieces of rows.
  rows.push_back(
      {"sum", "sum/columns_5000x3", {{{5000, 3}}}, [](const Inputs& x) { return sum(x[0], {0}); }});
  rows.push_back({"mean", "mean/middle_axis_4x3000x5", {{{4, 3000, 5}}}, [](const Inputs& x) {
                    return mean(x[0], {1});
                  }});
  // Normalisation: groups of at least 8192 elements (1024-thread blocks), and parameter
  // gradients summed over many rows (a block per parameter).
  rows.push_back({"batch_norm",
                  "batch_norm/train_9216_per_channel",
                  {{{4, 3, 48, 48}}, {{3}}, {{3}}},
                  [](const Inputs& x) { return batch_norm(x[0], x[1], x[2], {}, {}, true); }});
  rows.push_back({"group_norm",
                  "group_norm/9216_per_group",
                  {{{2, 4, 64, 72}}, {{4}}, {{4}}},
                  [](const Inputs& x) { return group_norm(x[0], 2, x[1], x[2]); }});
  rows.push_back({"layer_norm",
                  "layer_norm/9216_per_row",
                  {{{2, 96, 96}}, {{96, 96}}, {{96, 96}}},
                  [](const Inputs& x) {
                    return layer_norm(x[0], {96, 96}, x[1], x[2]);
                  }});
  rows.push_back(
      {"layer_norm", "layer_norm/5000_rows", {{{5000, 8}}, {{8}}, {{8}}}, [](const Inputs& x) {
         return layer_norm(x[0], {8}, x[1], x[2]);
       }});
  // LU: 40 x 40 fits the shared-memory kernel with its inverse (the backward pass); a float64
  // 60 x 60 inverse does not, and takes the thread-per-matrix kernel.
  rows.push_back({"logabsdet", "logabsdet/3x40x40", {{{3, 40, 40}}}, [](const Inputs& x) {
                    return logabsdet(well_conditioned(x[0]));
                  }});
  rows.push_back({"inverse", "inverse/2x60x60", {{{2, 60, 60}}}, [](const Inputs& x) {
                    return inverse(well_conditioned(x[0]));
                  }});
  // Convolution: im2col matrices of 30 images exceed one workspace chunk (2^25 elements) in
  // the forward pass, the input gradient and the weight gradient (4 output channels: GEMMs).
  rows.push_back({"conv2d",
                  "conv2d/workspace_in_chunks",
                  {{{30, 8, 128, 128}}, {{4, 8, 3, 3}}, {{4}}},
                  [](const Inputs& x) { return conv2d(x[0], x[1], x[2], {.padding = 1}); },
                  false,
                  false});
  // The direct kernels (one or two output channels per group) at the autoencoder's last
  // layer's size, and the transposed direct kernel with a stride.
  rows.push_back({"conv2d",
                  "conv2d/direct_64_to_1_5x5",
                  {{{8, 64, 28, 28}}, {{1, 64, 5, 5}}, {{1}}},
                  [](const Inputs& x) { return conv2d(x[0], x[1], x[2], {.padding = 2}); },
                  false,
                  false});
  rows.push_back({"conv_transpose2d",
                  "conv_transpose2d/direct_stride2",
                  {{{4, 2, 9, 9}}, {{2, 3, 3, 3}}, {{3}}},
                  [](const Inputs& x) {
                    return conv_transpose2d(x[0], x[1], x[2],
                                            {.stride = 2, .padding = 1, .output_padding = 1});
                  }});
  return rows;
}

}  // namespace kite::test_support
