// The mixed blocks of FID-Inception (see mixed_blocks.h).
#include "models/inception/mixed_blocks.h"

#include "engine/error.h"
#include "models/nn/pooling.h"
#include "ops/shape_ops.h"

namespace kite::inception {
namespace {

std::shared_ptr<BasicConv2d> conv(int64_t in, int64_t out, Size2d kernel, int64_t stride = 1,
                                  Padding2d padding = 0) {
  return std::make_shared<BasicConv2d>(in, out, kernel, stride, padding);
}

std::shared_ptr<nn::Layer> max_pool_3x3_stride_2() {
  return std::make_shared<nn::MaxPool2d>(MaxPool2dOptions{.kernel = 3, .stride = 2});
}

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

}  // namespace

std::shared_ptr<nn::Layer> average_pool_3x3_excluding_padding() {
  return std::make_shared<nn::AvgPool2d>(
      AvgPool2dOptions{.kernel = 3, .stride = 1, .padding = 1, .count_include_pad = false});
}

Tower& Tower::add(const std::string& name, std::shared_ptr<nn::Layer> layer) {
  register_module(name, layer);
  layers_.emplace_back(name, std::move(layer));
  return *this;
}

Tensor Tower::forward(const Tensor& x) {
  return forward_observed(x, [](const std::string&, const Tensor&) {});
}

void Tower::collect_convs(const std::string& prefix, NamedConvs& out) const {
  for (const auto& [name, layer] : layers_) {
    if (const auto* unit = dynamic_cast<const BasicConv2d*>(layer.get()))
      out.emplace_back(join(prefix, name), unit);
    else if (const auto* block = dynamic_cast<const Block*>(layer.get()))
      block->collect_convs(join(prefix, name), out);
  }
}

// --- InceptionA: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg pool -> 1x1 ------------------

InceptionA::InceptionA(int64_t in, int64_t pool_features)
    : out_channels_(64 + 64 + 96 + pool_features) {
  conv_ = register_module("conv", conv(in, 64, 1));
  tower_ = register_module("tower", std::make_shared<Tower>());
  tower_->add("conv", conv(in, 48, 1)).add("conv_1", conv(48, 64, 5, 1, 2));
  tower_1_ = register_module("tower_1", std::make_shared<Tower>());
  tower_1_->add("conv", conv(in, 64, 1))
      .add("conv_1", conv(64, 96, 3, 1, 1))
      .add("conv_2", conv(96, 96, 3, 1, 1));
  tower_2_ = register_module("tower_2", std::make_shared<Tower>());
  tower_2_->add("pool", average_pool_3x3_excluding_padding())
      .add("conv", conv(in, pool_features, 1));
}

Tensor InceptionA::forward(const Tensor& x) {
  return cat({conv_->forward(x), tower_->forward(x), tower_1_->forward(x), tower_2_->forward(x)},
             1);
}

void InceptionA::collect_convs(const std::string& prefix, NamedConvs& out) const {
  out.emplace_back(join(prefix, "conv"), conv_.get());
  tower_->collect_convs(join(prefix, "tower"), out);
  tower_1_->collect_convs(join(prefix, "tower_1"), out);
  tower_2_->collect_convs(join(prefix, "tower_2"), out);
}

// --- InceptionB: 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | max pool 3x3/2 ----------------------------

InceptionB::InceptionB(int64_t in) : out_channels_(384 + 96 + in) {
  conv_ = register_module("conv", conv(in, 384, 3, 2));
  tower_ = register_module("tower", std::make_shared<Tower>());
  tower_->add("conv", conv(in, 64, 1))
      .add("conv_1", conv(64, 96, 3, 1, 1))
      .add("conv_2", conv(96, 96, 3, 2));
  pool_ = register_module("pool", max_pool_3x3_stride_2());
}

Tensor InceptionB::forward(const Tensor& x) {
  return cat({conv_->forward(x), tower_->forward(x), pool_->forward(x)}, 1);
}

void InceptionB::collect_convs(const std::string& prefix, NamedConvs& out) const {
  out.emplace_back(join(prefix, "conv"), conv_.get());
  tower_->collect_convs(join(prefix, "tower"), out);
}

// --- InceptionC: 1x1 | 1x1 -> 1x7 -> 7x1 | 1x1 -> 7x1 -> 1x7 -> 7x1 -> 1x7 | pool -> 1x1 --

InceptionC::InceptionC(int64_t in, int64_t c7) {
  const Padding2d along_w{0, 3}, along_h{3, 0};  // (rows, columns) for 1x7 and 7x1 kernels
  conv_ = register_module("conv", conv(in, 192, 1));
  tower_ = register_module("tower", std::make_shared<Tower>());
  tower_->add("conv", conv(in, c7, 1))
      .add("conv_1", conv(c7, c7, {1, 7}, 1, along_w))
      .add("conv_2", conv(c7, 192, {7, 1}, 1, along_h));
  tower_1_ = register_module("tower_1", std::make_shared<Tower>());
  tower_1_->add("conv", conv(in, c7, 1))
      .add("conv_1", conv(c7, c7, {7, 1}, 1, along_h))
      .add("conv_2", conv(c7, c7, {1, 7}, 1, along_w))
      .add("conv_3", conv(c7, c7, {7, 1}, 1, along_h))
      .add("conv_4", conv(c7, 192, {1, 7}, 1, along_w));
  tower_2_ = register_module("tower_2", std::make_shared<Tower>());
  tower_2_->add("pool", average_pool_3x3_excluding_padding()).add("conv", conv(in, 192, 1));
}

Tensor InceptionC::forward(const Tensor& x) {
  return cat({conv_->forward(x), tower_->forward(x), tower_1_->forward(x), tower_2_->forward(x)},
             1);
}

void InceptionC::collect_convs(const std::string& prefix, NamedConvs& out) const {
  out.emplace_back(join(prefix, "conv"), conv_.get());
  tower_->collect_convs(join(prefix, "tower"), out);
  tower_1_->collect_convs(join(prefix, "tower_1"), out);
  tower_2_->collect_convs(join(prefix, "tower_2"), out);
}

// --- InceptionD: 1x1 -> 3x3/2 | 1x1 -> 1x7 -> 7x1 -> 3x3/2 | max pool 3x3/2 ---------------

InceptionD::InceptionD(int64_t in) : out_channels_(320 + 192 + in) {
  tower_ = register_module("tower", std::make_shared<Tower>());
  tower_->add("conv", conv(in, 192, 1)).add("conv_1", conv(192, 320, 3, 2));
  tower_1_ = register_module("tower_1", std::make_shared<Tower>());
  tower_1_->add("conv", conv(in, 192, 1))
      .add("conv_1", conv(192, 192, {1, 7}, 1, {0, 3}))
      .add("conv_2", conv(192, 192, {7, 1}, 1, {3, 0}))
      .add("conv_3", conv(192, 192, 3, 2));
  pool_ = register_module("pool", max_pool_3x3_stride_2());
}

Tensor InceptionD::forward(const Tensor& x) {
  return cat({tower_->forward(x), tower_1_->forward(x), pool_->forward(x)}, 1);
}

void InceptionD::collect_convs(const std::string& prefix, NamedConvs& out) const {
  tower_->collect_convs(join(prefix, "tower"), out);
  tower_1_->collect_convs(join(prefix, "tower_1"), out);
}

// --- InceptionE: 1x1 | 1x1 -> (1x3, 3x1) | 1x1 -> 3x3 -> (1x3, 3x1) | pool -> 1x1 ---------

InceptionE::InceptionE(int64_t in, Pool pool) {
  conv_ = register_module("conv", conv(in, 320, 1));
  tower_conv_ = register_module("tower_conv", conv(in, 384, 1));
  tower_mixed_conv_ = register_module("tower_mixed_conv", conv(384, 384, {1, 3}, 1, {0, 1}));
  tower_mixed_conv_1_ = register_module("tower_mixed_conv_1", conv(384, 384, {3, 1}, 1, {1, 0}));
  tower_1_conv_ = register_module("tower_1_conv", conv(in, 448, 1));
  tower_1_conv_1_ = register_module("tower_1_conv_1", conv(448, 384, 3, 1, 1));
  tower_1_mixed_conv_ = register_module("tower_1_mixed_conv", conv(384, 384, {1, 3}, 1, {0, 1}));
  tower_1_mixed_conv_1_ =
      register_module("tower_1_mixed_conv_1", conv(384, 384, {3, 1}, 1, {1, 0}));
  tower_2_pool_ = register_module(
      "tower_2_pool", pool == Pool::Average
                          ? average_pool_3x3_excluding_padding()
                          : std::shared_ptr<nn::Layer>(std::make_shared<nn::MaxPool2d>(
                                MaxPool2dOptions{.kernel = 3, .stride = 1, .padding = 1})));
  tower_2_conv_ = register_module("tower_2_conv", conv(in, 192, 1));
}

Tensor InceptionE::forward(const Tensor& x) {
  const Tensor a = tower_conv_->forward(x);
  const Tensor b = tower_1_conv_1_->forward(tower_1_conv_->forward(x));
  // The archive's concatenation order: 1x1, the two splits of a, the two splits of b, pool.
  return cat({conv_->forward(x), tower_mixed_conv_->forward(a), tower_mixed_conv_1_->forward(a),
              tower_1_mixed_conv_->forward(b), tower_1_mixed_conv_1_->forward(b),
              tower_2_conv_->forward(tower_2_pool_->forward(x))},
             1);
}

void InceptionE::collect_convs(const std::string& prefix, NamedConvs& out) const {
  const std::pair<const char*, const BasicConv2d*> units[] = {
      {"conv", conv_.get()},
      {"tower_conv", tower_conv_.get()},
      {"tower_mixed_conv", tower_mixed_conv_.get()},
      {"tower_mixed_conv_1", tower_mixed_conv_1_.get()},
      {"tower_1_conv", tower_1_conv_.get()},
      {"tower_1_conv_1", tower_1_conv_1_.get()},
      {"tower_1_mixed_conv", tower_1_mixed_conv_.get()},
      {"tower_1_mixed_conv_1", tower_1_mixed_conv_1_.get()},
      {"tower_2_conv", tower_2_conv_.get()}};
  for (const auto& [name, unit] : units) out.emplace_back(join(prefix, name), unit);
}

}  // namespace kite::inception
