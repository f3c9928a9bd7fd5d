// Latent noise for stage 1: see latent_noise.h.
#include "models/ae/latent_noise.h"

#include "engine/error.h"
#include "engine/shape.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/reduce.h"

namespace kite::ae {

Tensor jitter_codes(const Tensor& codes, double s, Generator* generator) {
  KITE_CHECK(s >= 0, "jitter_codes: the noise scale must be >= 0, got " << s);
  if (s == 0) return codes;
  KITE_CHECK(codes.dim() == 2 && codes.size(0) >= 2,
             "jitter_codes: expected codes [N >= 2, latent], got " << shape_str(codes.shape()));
  const Tensor spread = sqrt(var(codes.detach(), {0}, /*unbiased=*/false, /*keepdim=*/true));
  return codes + s * spread * randn_like(codes, generator);
}

}  // namespace kite::ae
