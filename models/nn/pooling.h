// Parameter-free spatial layers on NCHW images: average and max pooling, and nearest-neighbour
// upsampling, as Layers so they compose with Sequential (the ops are in ops/pool.h and
// ops/upsample.h).
#pragma once

#include "models/nn/layer.h"
#include "ops/pool.h"

namespace kite::nn {

class AvgPool2d : public Layer {
 public:
  explicit AvgPool2d(const AvgPool2dOptions& options);
  explicit AvgPool2d(Size2d kernel) : AvgPool2d(AvgPool2dOptions{.kernel = kernel}) {}
  Tensor forward(const Tensor& x) override;
  const AvgPool2dOptions& options() const { return options_; }

 private:
  AvgPool2dOptions options_;
};

class MaxPool2d : public Layer {
 public:
  explicit MaxPool2d(const MaxPool2dOptions& options);
  explicit MaxPool2d(Size2d kernel) : MaxPool2d(MaxPool2dOptions{.kernel = kernel}) {}
  Tensor forward(const Tensor& x) override;
  const MaxPool2dOptions& options() const { return options_; }

 private:
  MaxPool2dOptions options_;
};

// Nearest-neighbour upsampling by integer factors: every pixel becomes a scale.h x scale.w block.
class Upsample : public Layer {
 public:
  explicit Upsample(Size2d scale);
  Tensor forward(const Tensor& x) override;
  Size2d scale() const { return scale_; }

 private:
  Size2d scale_;
};

}  // namespace kite::nn
