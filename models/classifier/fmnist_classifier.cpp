// The Fashion-MNIST feature extractor (see fmnist_classifier.h).
#include "models/classifier/fmnist_classifier.h"

#include "engine/checkpoint.h"
#include "engine/error.h"
#include "models/metrics/sha256.h"
#include "ops/activations.h"
#include "ops/pool.h"
#include "ops/shape_ops.h"

namespace kite::classifier {
namespace {

Tensor pool(const Tensor& x) { return max_pool2d(x, MaxPool2dOptions{.kernel = 2}); }

}  // namespace

FmnistClassifier::FmnistClassifier(DType dtype, Generator* generator) {
  conv1_ = register_module(
      "conv1",
      std::make_shared<nn::Conv2d>(1, 32, 3, Conv2dOptions{.padding = 1}, false, dtype, generator));
  bn1_ =
      register_module("bn1", std::make_shared<nn::BatchNorm2d>(32, nn::BatchNormOptions{}, dtype));
  conv2_ =
      register_module("conv2", std::make_shared<nn::Conv2d>(32, 64, 3, Conv2dOptions{.padding = 1},
                                                            false, dtype, generator));
  bn2_ =
      register_module("bn2", std::make_shared<nn::BatchNorm2d>(64, nn::BatchNormOptions{}, dtype));
  fc_ = register_module(
      "fc", std::make_shared<nn::Linear>(64 * 7 * 7, kFmnistFeatureDim, true, dtype, generator));
  head_ = register_module("head", std::make_shared<nn::Linear>(kFmnistFeatureDim, kFmnistClasses,
                                                               true, dtype, generator));
}

Tensor FmnistClassifier::features(const Tensor& x) {
  KITE_CHECK(x.dim() == 4 && x.size(1) == 1 && x.size(2) == 28 && x.size(3) == 28,
             "FmnistClassifier: expected images [N, 1, 28, 28], got " << describe(x));
  Tensor h = pool(relu(bn1_->forward(conv1_->forward(x))));
  h = pool(relu(bn2_->forward(conv2_->forward(h))));
  return relu(fc_->forward(flatten(h, 1)));
}

Tensor FmnistClassifier::logits(const Tensor& features) { return head_->forward(features); }

Tensor FmnistClassifier::forward(const Tensor& x) { return logits(features(x)); }

void save_fmnist_classifier(const std::string& path, const FmnistClassifier& model,
                            const std::string& metadata_json) {
  Checkpoint checkpoint;
  for (const auto& [name, tensor] : model.state_dict())
    checkpoint.tensors["model." + name] = tensor;
  checkpoint.metadata["format"] = "kite-fmnist-classifier";
  checkpoint.metadata["architecture"] = kFmnistClassifierArchitecture;
  checkpoint.metadata["info"] = metadata_json;
  save_checkpoint(path, checkpoint);
}

LoadedClassifier load_fmnist_classifier(const std::string& path, Device device) {
  Checkpoint checkpoint = load_checkpoint(path);
  auto architecture = checkpoint.metadata.find("architecture");
  KITE_CHECK(architecture == checkpoint.metadata.end() ||
                 architecture->second == kFmnistClassifierArchitecture,
             "classifier " << path << ": architecture '" << architecture->second << "', expected "
                           << kFmnistClassifierArchitecture);
  std::map<std::string, Tensor> state;
  for (const auto& [name, tensor] : checkpoint.tensors)
    if (name.rfind("model.", 0) == 0) state[name.substr(6)] = tensor;
  KITE_CHECK(!state.empty(), "classifier " << path << ": no model.* tensors");
  LoadedClassifier loaded;
  loaded.model = std::make_shared<FmnistClassifier>();
  try {
    loaded.model->load_state_dict(state);
  } catch (const Error& e) {
    KITE_FAIL("classifier " << path << ": " << e.what());
  }
  loaded.model->to(device);
  loaded.model->eval();
  loaded.sha256 = metrics::sha256_file(path);
  loaded.version = std::string(kFmnistClassifierArchitecture) + ":" + loaded.sha256;
  return loaded;
}

}  // namespace kite::classifier
