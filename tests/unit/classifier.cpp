// The FID-FMNIST feature extractor: shapes, a save/load round trip that keeps the features
// bit for bit, the version string = SHA-256 of the weights file, and SHA-256 itself against
// the FIPS 180-4 test vectors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "engine/error.h"
#include "models/classifier/fmnist_classifier.h"
#include "models/metrics/sha256.h"
#include "ops/ops.h"

namespace kite::classifier {
namespace {

TEST(Sha256, FipsTestVectors) {
  EXPECT_EQ(metrics::sha256_hex("", 0),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(metrics::sha256_hex("abc", 3),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(metrics::sha256_hex(two_blocks.data(), two_blocks.size()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // One million 'a', fed in uneven pieces.
  metrics::Sha256 hash;
  const std::string piece(997, 'a');
  size_t left = 1000000;
  while (left > 0) {
    const size_t take = std::min(left, piece.size());
    hash.update(piece.data(), take);
    left -= take;
  }
  EXPECT_EQ(hash.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(FmnistClassifier, ShapesAndRoundTrip) {
  Generator init(1);
  FmnistClassifier model(DType::Float32, &init);
  model.eval();
  manual_seed(5);
  Tensor x = rand({3, 1, 28, 28});
  Tensor features = model.features(x);
  EXPECT_EQ(features.shape(), (Shape{3, kFmnistFeatureDim}));
  EXPECT_EQ(model.forward(x).shape(), (Shape{3, 10}));
  EXPECT_GE(amin(features).item<double>(), 0.0);  // after the ReLU

  const std::string path =
      (std::filesystem::temp_directory_path() / "kite_test_classifier.safetensors").string();
  save_fmnist_classifier(path, model, R"({"test_accuracy": 0.5})");
  LoadedClassifier loaded = load_fmnist_classifier(path, Device::cpu());
  EXPECT_EQ(loaded.sha256, metrics::sha256_file(path));
  EXPECT_EQ(loaded.version, std::string("fmnist-cnn-v1:") + loaded.sha256);
  EXPECT_EQ(to_double_vector(loaded.model->features(x)), to_double_vector(features));
  // Different weights, different version.
  Generator other(2);
  FmnistClassifier model2(DType::Float32, &other);
  save_fmnist_classifier(path, model2);
  EXPECT_NE(load_fmnist_classifier(path, Device::cpu()).version, loaded.version);
  std::filesystem::remove(path);
}

TEST(FmnistClassifier, RejectsWrongInputAndFiles) {
  FmnistClassifier model;
  EXPECT_THROW(model.features(zeros({1, 3, 28, 28})), Error);
  EXPECT_THROW(load_fmnist_classifier("/nonexistent/classifier.safetensors", Device::cpu()), Error);
}

}  // namespace
}  // namespace kite::classifier
