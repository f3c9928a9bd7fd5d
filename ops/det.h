// Determinants and inverses of (batches of) square matrices, via LU with partial pivoting.
// The i-ResNet flow uses logabsdet of each block's Jacobian for exact likelihoods.
#pragma once

#include "engine/tensor.h"

namespace kite {

// log |det A| for A of shape [..., n, n]; result has shape [...]. Backward: g * A^{-T}.
Tensor logabsdet(const Tensor& a);
// A^{-1} for A of shape [..., n, n]. Backward: -A^{-T} g A^{-T}. Singular -> error.
Tensor inverse(const Tensor& a);

}  // namespace kite
