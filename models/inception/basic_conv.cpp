// BasicConv2d (see basic_conv.h).
#include "models/inception/basic_conv.h"

#include "engine/error.h"
#include "ops/activations.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/shape_ops.h"

namespace kite::inception {

BasicConv2d::BasicConv2d(int64_t in_channels, int64_t out_channels, Size2d kernel, int64_t stride,
                         Padding2d padding)
    : stride_(stride), padding_(padding) {
  KITE_CHECK(in_channels > 0 && out_channels > 0 && kernel.h > 0 && kernel.w > 0 && stride > 0,
             "BasicConv2d: bad configuration " << in_channels << " -> " << out_channels
                                               << ", kernel " << kernel.h << "x" << kernel.w
                                               << ", stride " << stride);
  // Placeholders until weights are loaded: an identity normalisation of a zero convolution.
  weight = zeros({out_channels, in_channels, kernel.h, kernel.w});
  beta = zeros({out_channels});
  mean = zeros({out_channels});
  var = full({out_channels}, 1.0 - kBatchNormEps);
  register_parameter("weight", &weight);
  register_parameter("beta", &beta);
  register_parameter("mean", &mean);
  register_parameter("var", &var);
}

Tensor BasicConv2d::forward(const Tensor& x) {
  const Tensor scale = rsqrt(var + kBatchNormEps);
  const Tensor folded_weight = weight * reshape(scale, {-1, 1, 1, 1});
  const Tensor folded_bias = beta - mean * scale;
  return relu(conv2d(x, folded_weight, folded_bias, {.stride = stride_, .padding = padding_}));
}

}  // namespace kite::inception
