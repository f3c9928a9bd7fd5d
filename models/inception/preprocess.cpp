// FID-Inception preprocessing (see preprocess.h).
#include "models/inception/preprocess.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "models/inception/fid_inception.h"
#include "ops/elementwise.h"
#include "ops/factory.h"
#include "ops/reduce.h"
#include "ops/shape_ops.h"
#include "ops/upsample.h"

namespace kite::inception {

Tensor preprocess(const Tensor& images) {
  KITE_CHECK(images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3) &&
                 images.size(2) > 0 && images.size(3) > 0,
             "inception::preprocess: expected images [N, 1 or 3, H, W], got " << describe(images));
  NoGradGuard no_grad;
  Tensor x;
  if (images.dtype() == DType::UInt8) {
    x = to_dtype(images, DType::Float32) / 255.0;
  } else {
    KITE_CHECK(images.dtype() == DType::Float32 || images.dtype() == DType::Float64,
               "inception::preprocess: images must be uint8 or float, got " << describe(images));
    x = to_dtype(images, DType::Float32);
    if (x.numel() > 0) {
      const double lo = to_double_vector(amin(x))[0], hi = to_double_vector(amax(x))[0];
      KITE_CHECK(lo >= 0.0 && hi <= 1.0,
                 "inception::preprocess: float images must lie in [0, 1], found values in ["
                     << lo << ", " << hi
                     << "] (clamp generated images, or divide 0..255 data by 255)");
    }
  }
  if (x.size(1) == 1) x = expand(x, {x.size(0), 3, x.size(2), x.size(3)});
  if (x.size(2) != kInputSize || x.size(3) != kInputSize)
    x = upsample_bilinear2d(contiguous(x), {kInputSize, kInputSize}, /*align_corners=*/false);
  return contiguous(x * (255.0 / 128.0) - 1.0);
}

}  // namespace kite::inception
