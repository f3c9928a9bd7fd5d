// FidInceptionV3: the Inception-v3 network with TensorFlow's 2015-12-05 weights that FID is
// defined with (Heusel et al. 2017; pytorch-fid ports the same graph), as a kite model.
//
// Input: [N, 3, 299, 299] float in TensorFlow's range (x - 128) / 128 for uint8 x, i.e.
// [-1, 0.9921875] (see preprocess.h). Output of features(): [N, 2048], the 8x8 average
// pool of Mixed_7c. Layer sequence and shapes for one image:
//   conv 3x3/2 32x149 -> conv_1 3x3 32x147 -> conv_2 3x3 pad 1 64x147 -> pool0 max 3/2 64x73
//   -> conv_3 1x1 80x73 -> conv_4 3x3 192x71 -> pool1 max 3/2 192x35
//   -> mixed, mixed_1, mixed_2 (A: 256, 288, 288 x35) -> mixed_3 (B: 768x17)
//   -> mixed_4..mixed_7 (C: 768x17) -> mixed_8 (D: 1280x8) -> mixed_9, mixed_10 (E: 2048x8)
//   -> pool2 avg 8 -> 2048
// Every layer is a child of `layers`, named as in the TorchScript archive (without its
// wrapper's `net.` prefix); weights.h loads them.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "models/inception/mixed_blocks.h"
#include "models/nn/module.h"

namespace kite::inception {

inline constexpr int64_t kFeatureDim = 2048;
inline constexpr int64_t kInputSize = 299;

class FidInceptionV3 : public nn::Module {
 public:
  FidInceptionV3();

  // x [N, 3, 299, 299] in the TF range -> [N, 2048]. Runs under no-grad whatever the caller's
  // grad mode: the network is a fixed measuring instrument.
  Tensor features(const Tensor& x);
  // The same, calling observe(name, activation) after each of the top-level layers (conv,
  // conv_1, ..., pool1, mixed, ..., mixed_10, pool2): for locating a mismatch.
  Tensor features_observed(const Tensor& x,
                           const std::function<void(const std::string&, const Tensor&)>& observe);

  // Every BasicConv2d with its dotted name (e.g. "layers.mixed_4.tower.conv_1").
  NamedConvs convs() const;

 private:
  std::shared_ptr<Tower> layers_;
};

}  // namespace kite::inception
