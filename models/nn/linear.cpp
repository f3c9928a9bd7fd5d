// Linear layer (see linear.h).
#include "models/nn/linear.h"

#include "models/nn/init.h"
#include "ops/factory.h"
#include "ops/linalg.h"

namespace kite::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias, DType dtype,
               Generator* generator) {
  KITE_CHECK(in_features > 0 && out_features > 0, "Linear: feature counts must be positive, got "
                                                      << in_features << " -> " << out_features);
  weight = Tensor::empty({out_features, in_features}, dtype);
  init::default_weight_(weight, generator);
  register_parameter("weight", &weight);
  if (with_bias) {
    bias = Tensor::empty({out_features}, dtype);
    init::default_bias_(bias, in_features, generator);
    register_parameter("bias", &bias);
  }
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

}  // namespace kite::nn
