// Dropout (Srivastava et al., 2014), in its "inverted" form: survivors are scaled by
// 1/(1-p) during training so that evaluation is the identity and needs no rescaling.
#include "ops/dropout.h"

#include "engine/error.h"
#include "ops/elementwise.h"
#include "ops/factory.h"

namespace kite {

Tensor dropout(const Tensor& x, double p, bool training, Generator* generator) {
  KITE_CHECK(x.defined(), "dropout: input is an undefined tensor");
  KITE_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability p must lie in [0, 1], got " << p);
  KITE_CHECK(is_floating(x.dtype()),
             "dropout: expected a floating tensor (float32 or float64), got " << describe(x));
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);  // everything dropped; 1/(1-p) would be infinite
  // The scaled mask does not require grad, so mul records g * mask as x's gradient.
  const Tensor keep = bernoulli(x.shape(), 1.0 - p, x.dtype(), x.device(), generator);
  return mul(x, mul(keep, 1.0 / (1.0 - p)));
}

}  // namespace kite
