// The "mixed" blocks of FID-Inception (Inception-v3 as in TensorFlow's 2015-12-05 graph),
// each a set of parallel branches concatenated along the channels, plus Tower, the named
// chain of layers the branches are made of.
//
// Child names follow the TorchScript archive the weights come from, so that a tensor named
// `net.layers.mixed_4.tower_1.conv_3.weight` there is `layers.mixed_4.tower_1.conv_3.weight`
// here. Output channels per block (input 299 x 299):
//   InceptionA  Mixed_5b/5c/5d   64 + 64 + 96 + pool_features        35 x 35
//   InceptionB  Mixed_6a         384 + 96 + in (max pool)           17 x 17  (stride 2)
//   InceptionC  Mixed_6b..6e     192 x 4, inner width c7 (128/160/160/192)  17 x 17
//   InceptionD  Mixed_7a         320 + 192 + in (max pool)           8 x 8   (stride 2)
//   InceptionE  Mixed_7b/7c      320 + 2 x 384 + 2 x 384 + 192 = 2048  8 x 8
// Where FID-Inception differs from torchvision's Inception-v3: the average pools inside the
// blocks exclude the padding from the count (count_include_pad = false), and Mixed_7c's
// pool branch is a 3x3 max pool (stride 1, padding 1).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/inception/basic_conv.h"
#include "models/nn/layer.h"

namespace kite::inception {

// Every BasicConv2d of a model by dotted name, for checking strides and paddings against
// the archive's record of them.
using NamedConvs = std::vector<std::pair<std::string, const BasicConv2d*>>;

// A layer made of BasicConv2d units, which it can list with their dotted names.
class Block : public nn::Layer {
 public:
  virtual void collect_convs(const std::string& prefix, NamedConvs& out) const = 0;
};

// Layers applied in order, each registered under its own name (torch's Sequential with
// named children, as the archive has them: `conv`, `conv_1`, `pool`, ...).
class Tower : public Block {
 public:
  Tower& add(const std::string& name, std::shared_ptr<nn::Layer> layer);
  Tensor forward(const Tensor& x) override;
  // Runs like forward and also calls `observe(name, output)` after each layer.
  template <class Observer>
  Tensor forward_observed(const Tensor& x, Observer&& observe) {
    Tensor y = x;
    for (auto& [name, layer] : layers_) {
      y = layer->forward(y);
      observe(name, y);
    }
    return y;
  }
  void collect_convs(const std::string& prefix, NamedConvs& out) const override;

 private:
  std::vector<std::pair<std::string, std::shared_ptr<nn::Layer>>> layers_;
};

// A 3x3, stride-1, padding-1 average pool that divides by the number of real pixels.
std::shared_ptr<nn::Layer> average_pool_3x3_excluding_padding();

class InceptionA : public Block {
 public:
  InceptionA(int64_t in_channels, int64_t pool_features);
  Tensor forward(const Tensor& x) override;
  void collect_convs(const std::string& prefix, NamedConvs& out) const override;
  int64_t out_channels() const { return out_channels_; }

 private:
  std::shared_ptr<BasicConv2d> conv_;
  std::shared_ptr<Tower> tower_, tower_1_, tower_2_;
  int64_t out_channels_;
};

class InceptionB : public Block {
 public:
  explicit InceptionB(int64_t in_channels);
  Tensor forward(const Tensor& x) override;
  void collect_convs(const std::string& prefix, NamedConvs& out) const override;
  int64_t out_channels() const { return out_channels_; }

 private:
  std::shared_ptr<BasicConv2d> conv_;
  std::shared_ptr<Tower> tower_;
  std::shared_ptr<nn::Layer> pool_;
  int64_t out_channels_;
};

class InceptionC : public Block {
 public:
  InceptionC(int64_t in_channels, int64_t channels_7x7);
  Tensor forward(const Tensor& x) override;
  void collect_convs(const std::string& prefix, NamedConvs& out) const override;
  int64_t out_channels() const { return 4 * 192; }

 private:
  std::shared_ptr<BasicConv2d> conv_;
  std::shared_ptr<Tower> tower_, tower_1_, tower_2_;
};

class InceptionD : public Block {
 public:
  explicit InceptionD(int64_t in_channels);
  Tensor forward(const Tensor& x) override;
  void collect_convs(const std::string& prefix, NamedConvs& out) const override;
  int64_t out_channels() const { return out_channels_; }

 private:
  std::shared_ptr<Tower> tower_, tower_1_;
  std::shared_ptr<nn::Layer> pool_;
  int64_t out_channels_;
};

class InceptionE : public Block {
 public:
  enum class Pool {
    Average,
    Max
  };  // Mixed_7b averages (excluding padding), Mixed_7c takes the max
  InceptionE(int64_t in_channels, Pool pool);
  Tensor forward(const Tensor& x) override;
  void collect_convs(const std::string& prefix, NamedConvs& out) const override;
  int64_t out_channels() const { return 2048; }

 private:
  std::shared_ptr<BasicConv2d> conv_, tower_conv_, tower_mixed_conv_, tower_mixed_conv_1_;
  std::shared_ptr<BasicConv2d> tower_1_conv_, tower_1_conv_1_, tower_1_mixed_conv_,
      tower_1_mixed_conv_1_, tower_2_conv_;
  std::shared_ptr<nn::Layer> tower_2_pool_;
};

}  // namespace kite::inception
