// Latent noise for stage 1 (train_ae --latent-noise): the decoder is trained on jittered codes
// codes + s * spread * eps, eps ~ N(0, I), spread = each latent dimension's standard deviation
// over the batch.
//
// Why: a plain autoencoder's decoder only ever sees the training codes, but a prior's samples
// land between and around them. A VAE's decoder is trained on noisy codes and behaves better
// there (the 2-stage VAE's edge in the comparison). The spread is held constant (no gradient),
// so the encoder cannot shrink the noise by growing its codes; s is therefore scale free.
#pragma once

#include "engine/generator.h"
#include "engine/tensor.h"

namespace kite::ae {

// codes [N, latent] -> jittered codes of the same shape; s = 0 returns codes unchanged.
// Throws kite::Error for s < 0 or codes that are not [N, latent] with N >= 2.
Tensor jitter_codes(const Tensor& codes, double s, Generator* generator);

}  // namespace kite::ae
