// Normalisation layers as ops: batch norm (training and evaluation), group norm, layer norm.
//
// The CPU forwards are fused kernels (statistics in one pass, normalise-and-affine in the
// next). Backward formulas are written with public ops, so gradients of gradients work;
// when the backward itself is not being recorded (the usual backward without
// create_graph), each op takes a fused kernel instead, which computes the same formula in
// two passes.
#pragma once

#include "engine/tensor.h"

namespace kite {

// x [N, C, *] (any number of trailing axes, including none). weight and bias [C] or
// undefined (no affine). Training normalises with the batch's mean and biased variance
// over every axis but C, and, when running_mean / running_var are defined, updates them in
// place without grad: running = (1 - momentum) * running + momentum * batch statistic
// (the unbiased variance for running_var). Evaluation normalises with the running
// statistics, which must then be defined.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum = 0.1, double eps = 1e-5);

// x [N, C, *], C divisible by groups; statistics per sample and group of C / groups
// channels; weight and bias [C] or undefined.
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

// Normalises over the trailing axes given by normalized_shape (which must match them);
// weight and bias have normalized_shape or are undefined.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

}  // namespace kite
