// The Fashion-MNIST classifier whose penultimate features define "FID-FMNIST": the Fréchet
// distance between Gaussians fitted to these 128-d features of two image sets.
//
// Inception's FID weights cannot be downloaded here, and papers on MNIST-like data use a
// classifier trained on the data set itself instead. Scores are comparable ONLY between runs
// that used the same weights file: every result carries the extractor's version string,
// "fmnist-cnn-v1:" + the SHA-256 of the weights file (what `sha256sum` prints).
//
// Architecture (28x28x1 in [0, 1], no normalisation of the input needed):
//   conv3x3(1 -> 32) + BN + ReLU + MaxPool2      14x14
//   conv3x3(32 -> 64) + BN + ReLU + MaxPool2     7x7
//   flatten (3136) -> Linear(128) + ReLU         = features(x), 128-d
//   Linear(128 -> 10)                            = forward(x), logits
//
// Use (also for `fid --features fmnist`):
//   auto loaded =
//   kite::classifier::load_fmnist_classifier("runs/classifier/fmnist_classifier.safetensors",
//                                                          Device::cpu());
//   Tensor f = loaded.model->features(images);   // [N, 128] float32, evaluation mode, no grad
//   std::string version = loaded.version;        // "fmnist-cnn-v1:<sha256 of the file>"
// `apps/train_classifier` writes the weights file.
#pragma once

#include <memory>
#include <string>

#include "models/nn/batchnorm.h"
#include "models/nn/conv.h"
#include "models/nn/linear.h"

namespace kite::classifier {

inline constexpr const char* kFmnistClassifierArchitecture = "fmnist-cnn-v1";
inline constexpr int64_t kFmnistFeatureDim = 128;
inline constexpr int64_t kFmnistClasses = 10;

class FmnistClassifier : public nn::Layer {
 public:
  explicit FmnistClassifier(DType dtype = DType::Float32, Generator* generator = nullptr);
  // images [N, 1, 28, 28] -> logits [N, 10].
  Tensor forward(const Tensor& x) override;
  // images [N, 1, 28, 28] -> penultimate features [N, 128] (after the ReLU).
  Tensor features(const Tensor& x);
  // features [N, 128] -> logits [N, 10]: forward(x) is logits(features(x)).
  Tensor logits(const Tensor& features);

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
  std::shared_ptr<nn::BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<nn::Linear> fc_, head_;
};

struct LoadedClassifier {
  std::shared_ptr<FmnistClassifier> model;  // evaluation mode, on the requested device
  std::string version;                      // "fmnist-cnn-v1:<sha256 hex of the file>"
  std::string sha256;                       // the hex digest alone
};

// Saves only the weights (model.* tensors, metadata format/architecture), atomically.
void save_fmnist_classifier(const std::string& path, const FmnistClassifier& model,
                            const std::string& metadata_json = "{}");
// Reads a file written by save_fmnist_classifier (or a train_classifier checkpoint).
LoadedClassifier load_fmnist_classifier(const std::string& path, Device device);

}  // namespace kite::classifier
