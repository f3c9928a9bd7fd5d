// Dropout: in training, zero each element with probability p and scale the rest by 1/(1-p);
// in evaluation, the identity.
#pragma once

#include "engine/generator.h"
#include "engine/tensor.h"

namespace kite {

Tensor dropout(const Tensor& x, double p, bool training, Generator* generator = nullptr);

}  // namespace kite
