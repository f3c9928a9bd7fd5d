// Linear layer: y = x W^T + b, W of shape [out, in], PyTorch's default initialisation.
#pragma once

#include "models/nn/layer.h"

namespace kite::nn {

class Linear : public Layer {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, DType dtype = DType::Float32,
         Generator* generator = nullptr);
  Tensor forward(const Tensor& x) override;

  Tensor weight;
  Tensor bias;  // undefined without bias
};

}  // namespace kite::nn
