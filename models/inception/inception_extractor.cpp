// FeatureExtractor for FID-Inception (see feature_extractor.h): preprocess, network, to CPU.
#include "engine/autograd.h"
#include "models/inception/feature_extractor.h"
#include "models/inception/fid_inception.h"
#include "models/inception/preprocess.h"
#include "models/inception/weights.h"
#include "ops/factory.h"
#include "ops/shape_ops.h"

namespace kite::inception {
namespace {

class InceptionExtractor final : public FeatureExtractor {
 public:
  InceptionExtractor(const std::string& weights_path, Device device) : device_(device) {
    info_ = load_weights(model_, weights_path);
    model_.to(device);
  }
  std::string name() const override { return "inception-v3-fid"; }
  int64_t dim() const override { return kFeatureDim; }
  std::string version() const override {
    return std::string("weights sha256 ") + info_.source_sha256 + "; " + kPreprocessing;
  }
  Tensor features(const Tensor& images) override {
    NoGradGuard no_grad;
    const Tensor x = preprocess(to_device(images, device_));
    return contiguous(to_device(model_.features(x), Device::cpu()));
  }

 private:
  FidInceptionV3 model_;
  WeightsInfo info_;
  Device device_;
};

}  // namespace

std::unique_ptr<FeatureExtractor> make_inception_extractor(const std::string& weights_path,
                                                           Device device) {
  return std::make_unique<InceptionExtractor>(weights_path, device);
}

}  // namespace kite::inception
