// Convolution layers on NCHW images: Conv2d and ConvTranspose2d, holding their weight and
// optional bias and calling the ops of ops/conv.h. Initialised as PyTorch does (kaiming
// uniform with a = sqrt(5) for the weight, uniform(+-1/sqrt(fan_in)) for the bias), so a
// model built here starts from the same distribution as its PyTorch original.
#pragma once

#include "models/nn/layer.h"
#include "ops/conv.h"

namespace kite::nn {

class Conv2d : public Layer {
 public:
  // weight [out_channels, in_channels / groups, kernel.h, kernel.w], bias [out_channels].
  Conv2d(int64_t in_channels, int64_t out_channels, Size2d kernel,
         const Conv2dOptions& options = {}, bool bias = true, DType dtype = DType::Float32,
         Generator* generator = nullptr);
  Tensor forward(const Tensor& x) override;

  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  const Conv2dOptions& options() const { return options_; }

  Tensor weight;
  Tensor bias;  // undefined without bias

 private:
  int64_t in_channels_, out_channels_;
  Conv2dOptions options_;
};

class ConvTranspose2d : public Layer {
 public:
  // weight [in_channels, out_channels / groups, kernel.h, kernel.w] (PyTorch's layout: the
  // adjoint of a Conv2d from out_channels to in_channels), bias [out_channels].
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, Size2d kernel,
                  const ConvTranspose2dOptions& options = {}, bool bias = true,
                  DType dtype = DType::Float32, Generator* generator = nullptr);
  Tensor forward(const Tensor& x) override;

  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  const ConvTranspose2dOptions& options() const { return options_; }

  Tensor weight;
  Tensor bias;  // undefined without bias

 private:
  int64_t in_channels_, out_channels_;
  ConvTranspose2dOptions options_;
};

}  // namespace kite::nn
