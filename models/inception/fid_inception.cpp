// FidInceptionV3 (see fid_inception.h).
#include "models/inception/fid_inception.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/shape.h"
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

}  // namespace

FidInceptionV3::FidInceptionV3() {
  layers_ = register_module("layers", std::make_shared<Tower>());
  layers_->add("conv", conv(3, 32, 3, 2))
      .add("conv_1", conv(32, 32, 3))
      .add("conv_2", conv(32, 64, 3, 1, 1))
      .add("pool0", max_pool_3x3_stride_2())
      .add("conv_3", conv(64, 80, 1))
      .add("conv_4", conv(80, 192, 3))
      .add("pool1", max_pool_3x3_stride_2())
      .add("mixed", std::make_shared<InceptionA>(192, 32))
      .add("mixed_1", std::make_shared<InceptionA>(256, 64))
      .add("mixed_2", std::make_shared<InceptionA>(288, 64))
      .add("mixed_3", std::make_shared<InceptionB>(288))
      .add("mixed_4", std::make_shared<InceptionC>(768, 128))
      .add("mixed_5", std::make_shared<InceptionC>(768, 160))
      .add("mixed_6", std::make_shared<InceptionC>(768, 160))
      .add("mixed_7", std::make_shared<InceptionC>(768, 192))
      .add("mixed_8", std::make_shared<InceptionD>(768))
      .add("mixed_9", std::make_shared<InceptionE>(1280, InceptionE::Pool::Average))
      .add("mixed_10", std::make_shared<InceptionE>(2048, InceptionE::Pool::Max))
      .add("pool2", std::make_shared<nn::AvgPool2d>(AvgPool2dOptions{.kernel = 8, .stride = 8}));
  eval();
}

Tensor FidInceptionV3::features(const Tensor& x) {
  return features_observed(x, [](const std::string&, const Tensor&) {});
}

Tensor FidInceptionV3::features_observed(
    const Tensor& x, const std::function<void(const std::string&, const Tensor&)>& observe) {
  KITE_CHECK(x.dim() == 4 && x.size(1) == 3 && x.size(2) == kInputSize && x.size(3) == kInputSize,
             "FidInceptionV3: expected input [N, 3, 299, 299] (see inception/preprocess.h), got "
                 << describe(x));
  NoGradGuard no_grad;
  const Tensor pooled = layers_->forward_observed(x, observe);
  return reshape(pooled, {x.size(0), kFeatureDim});
}

NamedConvs FidInceptionV3::convs() const {
  NamedConvs out;
  layers_->collect_convs("layers", out);
  return out;
}

}  // namespace kite::inception
