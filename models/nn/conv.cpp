// Convolution layers (see conv.h).
#include "models/nn/conv.h"

#include "engine/error.h"
#include "models/nn/init.h"

namespace kite::nn {
namespace {

void check_channels(const char* layer, int64_t in_channels, int64_t out_channels, Size2d kernel,
                    int64_t groups) {
  KITE_CHECK(in_channels > 0 && out_channels > 0, layer << ": channel counts must be positive, got "
                                                        << in_channels << " -> " << out_channels);
  KITE_CHECK(kernel.h > 0 && kernel.w > 0,
             layer << ": kernel size must be positive, got " << kernel.h << "x" << kernel.w);
  KITE_CHECK(groups > 0 && in_channels % groups == 0 && out_channels % groups == 0,
             layer << ": groups = " << groups << " must divide both " << in_channels
                   << " input and " << out_channels << " output channels");
}

void check_input(const char* layer, const Tensor& x, int64_t in_channels) {
  KITE_CHECK(x.dim() == 4 && x.size(1) == in_channels,
             layer << ": expected input [N, " << in_channels << ", H, W], got " << describe(x));
}

}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, Size2d kernel,
               const Conv2dOptions& options, bool with_bias, DType dtype, Generator* generator)
    : in_channels_(in_channels), out_channels_(out_channels), options_(options) {
  check_channels("Conv2d", in_channels, out_channels, kernel, options.groups);
  weight = Tensor::empty({out_channels, in_channels / options.groups, kernel.h, kernel.w}, dtype);
  init::default_weight_(weight, generator);
  register_parameter("weight", &weight);
  if (with_bias) {
    bias = Tensor::empty({out_channels}, dtype);
    init::default_bias_(bias, init::fan_in(weight), generator);
    register_parameter("bias", &bias);
  }
}

Tensor Conv2d::forward(const Tensor& x) {
  check_input("Conv2d", x, in_channels_);
  return conv2d(x, weight, bias, options_);
}

ConvTranspose2d::ConvTranspose2d(int64_t in_channels, int64_t out_channels, Size2d kernel,
                                 const ConvTranspose2dOptions& options, bool with_bias, DType dtype,
                                 Generator* generator)
    : in_channels_(in_channels), out_channels_(out_channels), options_(options) {
  check_channels("ConvTranspose2d", in_channels, out_channels, kernel, options.groups);
  weight = Tensor::empty({in_channels, out_channels / options.groups, kernel.h, kernel.w}, dtype);
  // PyTorch computes fan_in from the weight's second axis here too (out_channels / groups
  // times the kernel area), so the same initialiser gives the same bounds.
  init::default_weight_(weight, generator);
  register_parameter("weight", &weight);
  if (with_bias) {
    bias = Tensor::empty({out_channels}, dtype);
    init::default_bias_(bias, init::fan_in(weight), generator);
    register_parameter("bias", &bias);
  }
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  check_input("ConvTranspose2d", x, in_channels_);
  return conv_transpose2d(x, weight, bias, options_);
}

}  // namespace kite::nn
