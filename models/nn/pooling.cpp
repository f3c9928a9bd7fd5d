// Pooling and upsampling layers (see pooling.h).
#include "models/nn/pooling.h"

#include "engine/error.h"
#include "ops/upsample.h"

namespace kite::nn {

AvgPool2d::AvgPool2d(const AvgPool2dOptions& options) : options_(options) {
  KITE_CHECK(options.kernel.h > 0 && options.kernel.w > 0,
             "AvgPool2d: kernel size must be positive, got " << options.kernel.h << "x"
                                                             << options.kernel.w);
}

Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, options_); }

MaxPool2d::MaxPool2d(const MaxPool2dOptions& options) : options_(options) {
  KITE_CHECK(options.kernel.h > 0 && options.kernel.w > 0,
             "MaxPool2d: kernel size must be positive, got " << options.kernel.h << "x"
                                                             << options.kernel.w);
}

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, options_); }

Upsample::Upsample(Size2d scale) : scale_(scale) {
  KITE_CHECK(scale.h > 0 && scale.w > 0, "Upsample: scale factors must be positive integers, got "
                                             << scale.h << "x" << scale.w);
}

Tensor Upsample::forward(const Tensor& x) { return upsample_nearest2d(x, scale_); }

}  // namespace kite::nn
