// Evaluation of a trained flow: exact negative log-likelihood over a whole code set (in
// batches, no grad) and the accuracy of the inverse on samples from the base distribution.
#pragma once

#include "models/flow/iresnet.h"

namespace kite::flow {

// Mean exact NLL in nats per dimension of `codes` ([n, d], already standardised).
double nll_per_dim(IResNet& flow, const Tensor& codes, int64_t batch_size = 1000);

// Draws n samples z from the flow's base (at the given temperature), inverts them, and
// reports the iterations and the largest residual |f(x) - z| of the round trip.
InverseStats check_inverse_on_samples(IResNet& flow, int64_t n, double temperature,
                                      const InverseOptions& options, Generator* generator);

}  // namespace kite::flow
