// The autoencoder's residual block (see residual_block.h).
#include "models/ae/residual_block.h"

#include "ops/activations.h"
#include "ops/elementwise.h"

namespace kite::ae {

ResidualBlock::ResidualBlock(int64_t in_channels, int64_t out_channels, DType dtype,
                             Generator* generator)
    : in_channels_(in_channels), out_channels_(out_channels) {
  const Conv2dOptions same3x3{.padding = 1};
  if (in_channels != out_channels)
    conv_expand = register_module(
        "conv_expand", std::make_shared<nn::Conv2d>(in_channels, out_channels, 1, Conv2dOptions{},
                                                    false, dtype, generator));
  conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(in_channels, out_channels, 3,
                                                                same3x3, false, dtype, generator));
  bn1 = register_module(
      "bn1", std::make_shared<nn::BatchNorm2d>(out_channels, nn::BatchNormOptions{}, dtype));
  conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(out_channels, out_channels, 3,
                                                                same3x3, false, dtype, generator));
  bn2 = register_module(
      "bn2", std::make_shared<nn::BatchNorm2d>(out_channels, nn::BatchNormOptions{}, dtype));
}

Tensor ResidualBlock::forward(const Tensor& x) {
  const Tensor skip = conv_expand ? conv_expand->forward(x) : x;
  Tensor h = leaky_relu(bn1->forward(conv1->forward(x)), kLeakySlope);
  h = bn2->forward(conv2->forward(h));
  return leaky_relu(h + skip, kLeakySlope);
}

}  // namespace kite::ae
