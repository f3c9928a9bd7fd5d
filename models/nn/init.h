// Weight initialisers (in place, no grad). fan_in / fan_out follow PyTorch: for a weight of
// shape [out, in, kh, kw], fan_in = in * kh * kw and fan_out = out * kh * kw.
#pragma once

#include "engine/generator.h"
#include "engine/tensor.h"

namespace kite::nn::init {

void uniform_(const Tensor& w, double lo, double hi, Generator* generator = nullptr);
void normal_(const Tensor& w, double mean, double std, Generator* generator = nullptr);
void zeros_(const Tensor& w);
// Kaiming (He) uniform for a leaky ReLU of the given slope (0 = ReLU): bound = gain * sqrt(3 /
// fan_in).
void kaiming_uniform_(const Tensor& w, double negative_slope = 0.0, Generator* generator = nullptr);
void xavier_uniform_(const Tensor& w, double gain = 1.0, Generator* generator = nullptr);
// PyTorch's default for Linear/Conv weights (kaiming_uniform with a = sqrt(5)), and their biases:
// uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void default_weight_(const Tensor& w, Generator* generator = nullptr);
void default_bias_(const Tensor& b, int64_t fan_in, Generator* generator = nullptr);

int64_t fan_in(const Tensor& w);
int64_t fan_out(const Tensor& w);

}  // namespace kite::nn::init
