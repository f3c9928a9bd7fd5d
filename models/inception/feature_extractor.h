// FeatureExtractor: what FID and KID need from a network, so that the `fid` binary can
// measure with FID-Inception (the standard scale) or with a classifier trained on the data
// set itself (FID-FMNIST), and never compare numbers from two different ones.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/device.h"
#include "engine/tensor.h"

namespace kite::inception {

class FeatureExtractor {
 public:
  virtual ~FeatureExtractor() = default;
  // Short identifier stored in statistics files, e.g. "inception-v3-fid".
  virtual std::string name() const = 0;
  virtual int64_t dim() const = 0;
  // Everything that changes the numbers (weights' hash, preprocessing): statistics are
  // comparable only when name and version are equal.
  virtual std::string version() const = 0;
  // images [N, C, H, W], uint8 or float in [0, 1], any device -> float32 [N, dim()] on the
  // CPU. No gradients are recorded.
  virtual Tensor features(const Tensor& images) = 0;
};

// FID-Inception with the converted TF weights (see weights.h), on `device`.
std::unique_ptr<FeatureExtractor> make_inception_extractor(const std::string& weights_path,
                                                           Device device);

}  // namespace kite::inception
