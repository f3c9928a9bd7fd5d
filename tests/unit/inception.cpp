// FID-Inception without its real weights: the network's structure (names, shapes, parameter
// count, layer output sizes), the preprocessing against PyTorch's (fixture from
// tests/reference/make_inception_fixtures.py), and the weight loader's errors. The parity of
// the features with the real weights is in inception_parity.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <string>

#include "engine/checkpoint.h"
#include "engine/error.h"
#include "engine/shape.h"
#include "models/inception/fid_inception.h"
#include "models/inception/preprocess.h"
#include "models/inception/weights.h"
#include "ops/factory.h"
#include "ops/shape_ops.h"

namespace kite::inception {
namespace {

const std::string kFixture =
    std::string(KITE_TEST_REFERENCE_DIR) + "/inception_reference.safetensors";

// The attributes metadata the converter writes, made from the network itself (the real
// archive's is checked against the network in inception_parity.cpp).
std::string attributes_of(const FidInceptionV3& model) {
  std::string json = "{";
  for (const auto& [name, conv] : model.convs()) {
    const Padding2d& p = conv->padding();
    const std::string padding =
        p.top == p.left ? std::to_string(p.top)
                        : "[" + std::to_string(p.top) + "," + std::to_string(p.left) + "]";
    json += (json.size() > 1 ? "," : "") + std::string("\"net.") + name +
            "\":{\"padding\":" + padding + ",\"stride\":" + std::to_string(conv->stride()) + "}";
  }
  return json + "}";
}

// A converted-weights checkpoint for `model` holding its own (placeholder) tensors.
Checkpoint weights_like(const FidInceptionV3& model) {
  Checkpoint c;
  for (const auto& [name, t] : model.state_dict()) c.tensors["net." + name] = clone(t);
  c.metadata["source_sha256"] = kWeightsSourceSha256;
  c.metadata["attributes"] = attributes_of(model);
  return c;
}

std::string load_error(FidInceptionV3& model, const Checkpoint& c, bool check_sha = true) {
  try {
    load_weights(model, c, "w.safetensors", check_sha);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

TEST(FidInception, HasTheArchivesTensorsAndParameterCount) {
  FidInceptionV3 model;
  const auto state = model.state_dict();
  EXPECT_EQ(state.size(), 376u);  // 94 conv units x (weight, beta, mean, var)
  int64_t values = 0;
  for (const auto& [name, t] : state) values += t.numel();
  EXPECT_EQ(values, 21802784);  // what the converter reports for default_1.pt
  EXPECT_EQ(shape_str(state.at("layers.conv.weight").shape()), shape_str({32, 3, 3, 3}));
  EXPECT_EQ(shape_str(state.at("layers.mixed_4.tower.conv_1.weight").shape()),
            shape_str({128, 128, 1, 7}));
  EXPECT_EQ(shape_str(state.at("layers.mixed_10.tower_1_mixed_conv_1.weight").shape()),
            shape_str({384, 384, 3, 1}));
  EXPECT_EQ(shape_str(state.at("layers.mixed_9.tower_2_conv.var").shape()), shape_str({192}));
  EXPECT_EQ(model.convs().size(), 94u);
}

TEST(FidInception, LayerOutputShapesFollowTheReference) {
  // REFERENCES.md: 32x149, 32x147, 64x147, pool 64x73, 80x73, 192x71, pool 192x35, Mixed_5b/c/d
  // 256/288/288 x35, Mixed_6a..6e 768x17, Mixed_7a 1280x8, 7b/7c 2048x8, pool 2048.
  const std::map<std::string, Shape> expected = {
      {"conv", {1, 32, 149, 149}},   {"conv_1", {1, 32, 147, 147}}, {"conv_2", {1, 64, 147, 147}},
      {"pool0", {1, 64, 73, 73}},    {"conv_3", {1, 80, 73, 73}},   {"conv_4", {1, 192, 71, 71}},
      {"pool1", {1, 192, 35, 35}},   {"mixed", {1, 256, 35, 35}},   {"mixed_1", {1, 288, 35, 35}},
      {"mixed_2", {1, 288, 35, 35}}, {"mixed_3", {1, 768, 17, 17}}, {"mixed_4", {1, 768, 17, 17}},
      {"mixed_5", {1, 768, 17, 17}}, {"mixed_6", {1, 768, 17, 17}}, {"mixed_7", {1, 768, 17, 17}},
      {"mixed_8", {1, 1280, 8, 8}},  {"mixed_9", {1, 2048, 8, 8}},  {"mixed_10", {1, 2048, 8, 8}},
      {"pool2", {1, 2048, 1, 1}}};
  FidInceptionV3 model;
  std::map<std::string, Shape> seen;
  const Tensor f = model.features_observed(
      zeros({1, 3, 299, 299}),
      [&](const std::string& name, const Tensor& a) { seen[name] = a.shape(); });
  EXPECT_EQ(shape_str(f.shape()), shape_str({1, 2048}));
  ASSERT_EQ(seen.size(), expected.size());
  for (const auto& [name, shape] : expected)
    EXPECT_EQ(shape_str(seen[name]), shape_str(shape)) << name;
}

TEST(FidInception, RejectsInputsNotShapedForTheNetwork) {
  FidInceptionV3 model;
  EXPECT_THROW(model.features(zeros({1, 3, 64, 64})), Error);
  EXPECT_THROW(model.features(zeros({1, 1, 299, 299})), Error);
}

TEST(FidInceptionPreprocess, MatchesPyTorchResizeAndScaling) {
  const Checkpoint ref = load_checkpoint(kFixture);
  for (const std::string key : {"gray28", "rgb32", "rgb64", "rgb299"}) {
    const Tensor image = ref.tensors.at("single." + key + ".image");
    ASSERT_EQ(image.dtype(), DType::UInt8);
    const Tensor x = preprocess(image);
    ASSERT_EQ(shape_str(x.shape()), shape_str({1, 3, 299, 299}));
    const auto ours = to_double_vector(slice(slice(select(x, 0, 0), 1, 0, 299, 7), 2, 0, 299, 7));
    const auto theirs = to_double_vector(ref.tensors.at("single." + key + ".input_sub"));
    // Both compute the source coordinate scale * (o + 0.5) - 0.5 in float32, where half an
    // ulp of the coordinate (up to H) can round differently (fma or not); that moves an
    // interpolation weight by up to ulp(H) / 2, and the output, whose neighbours differ by
    // at most 2 after the mapping to [-1, 1], by ulp(H). Plus a few ulps of the output.
    const double side = static_cast<double>(std::max(image.size(2), image.size(3)));
    const double ulp_of_side = std::ldexp(1.0, static_cast<int>(std::floor(std::log2(side))) - 23);
    EXPECT_LE(max_abs_diff(ours, theirs), ulp_of_side + 5e-7) << key;
    const auto means = to_double_vector(ref.tensors.at("single." + key + ".input_mean"));
    for (int64_t c = 0; c < 3; ++c) {
      const auto plane = to_double_vector(select(select(x, 0, 0), 0, c));
      double sum = 0;
      for (double v : plane) sum += v;
      EXPECT_NEAR(sum / plane.size(), means[c], 1e-6) << key << " channel " << c;
    }
  }
}

TEST(FidInceptionPreprocess, FloatAndUint8InputsAgreeAndRangesAreChecked) {
  const Tensor u8 = to_dtype(full({2, 1, 5, 7}, 200.0), DType::UInt8);
  const Tensor a = preprocess(u8);
  const Tensor b = preprocess(full({2, 1, 5, 7}, 200.0 / 255.0, DType::Float64));
  EXPECT_LE(max_abs_diff(to_double_vector(a), to_double_vector(b)), 1e-6);
  // (200 - 128) / 128 everywhere: a constant image stays constant under bilinear resizing.
  for (double v : to_double_vector(a)) ASSERT_NEAR(v, 72.0 / 128.0, 1e-6);
  EXPECT_THROW(preprocess(full({1, 3, 8, 8}, 1.5)), Error);  // float must be in [0, 1]
  EXPECT_THROW(preprocess(full({1, 3, 8, 8}, -0.25)), Error);
  EXPECT_THROW(preprocess(zeros({1, 2, 8, 8})), Error);  // 2 channels
  EXPECT_THROW(preprocess(zeros({3, 8, 8})), Error);     // not a batch
}

TEST(FidInceptionWeights, LoadsAFileMatchingTheNetwork) {
  FidInceptionV3 source, target;
  // Give the source recognisable values, then load them into a fresh network.
  const auto state = source.state_dict();
  fill_(state.at("layers.mixed_5.tower_1.conv_3.beta"), 0.25);
  const WeightsInfo info = load_weights(target, weights_like(source), "w.safetensors");
  EXPECT_EQ(info.source_sha256, kWeightsSourceSha256);
  for (double v : to_double_vector(target.state_dict().at("layers.mixed_5.tower_1.conv_3.beta")))
    ASSERT_EQ(v, 0.25);
}

TEST(FidInceptionWeights, ListsMissingUnexpectedAndMisshapenTensors) {
  FidInceptionV3 model;
  Checkpoint c = weights_like(model);
  c.tensors.erase("net.layers.mixed_7.tower_1.conv_2.var");
  c.tensors.erase("net.layers.conv.beta");
  c.tensors["net.layers.mixed_11.conv.weight"] = zeros({2});
  c.tensors["net.layers.conv_1.weight"] = zeros({32, 32, 3, 1});
  const std::string msg = load_error(model, c);
  EXPECT_NE(msg.find("w.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing 2: net.layers.conv.beta, net.layers.mixed_7.tower_1.conv_2.var"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("unexpected 1: net.layers.mixed_11.conv.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("wrong shape 1: net.layers.conv_1.weight [32, 32, 3, 1]"), std::string::npos)
      << msg;
}

TEST(FidInceptionWeights, NamesWithoutTheArchivePrefixAreUnexpected) {
  FidInceptionV3 model;
  Checkpoint c = weights_like(model);
  c.tensors["layers.conv.beta"] = c.tensors.at("net.layers.conv.beta");
  c.tensors.erase("net.layers.conv.beta");
  const std::string msg = load_error(model, c);
  EXPECT_NE(msg.find("missing 1: net.layers.conv.beta"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected 1: layers.conv.beta"), std::string::npos) << msg;
}

TEST(FidInceptionWeights, RefusesAnotherArchiveUnlessAskedNotToCheck) {
  FidInceptionV3 model;
  Checkpoint c = weights_like(model);
  c.metadata["source_sha256"] = std::string(64, '0');
  const std::string msg = load_error(model, c);
  EXPECT_NE(msg.find("sha256"), std::string::npos) << msg;
  EXPECT_NE(msg.find(kWeightsSourceSha256), std::string::npos) << msg;
  EXPECT_EQ(load_error(model, c, /*check_sha=*/false), "");
}

TEST(FidInceptionWeights, ChecksConvolutionSettingsAgainstTheArchive) {
  FidInceptionV3 model;
  Checkpoint c = weights_like(model);
  std::string& attributes = c.metadata["attributes"];
  const std::string needle = "\"net.layers.mixed_8.tower.conv_1\":{\"padding\":0,\"stride\":2}";
  const size_t at = attributes.find(needle);
  ASSERT_NE(at, std::string::npos) << attributes.substr(0, 300);
  attributes.replace(at, needle.size(),
                     "\"net.layers.mixed_8.tower.conv_1\":{\"padding\":1,\"stride\":2}");
  std::string msg = load_error(model, c);
  EXPECT_NE(msg.find("layers.mixed_8.tower.conv_1"), std::string::npos) << msg;
  c.metadata.erase("attributes");
  msg = load_error(model, c);
  EXPECT_NE(msg.find("attributes"), std::string::npos) << msg;
}

TEST(FidInceptionWeights, MissingFileNamesThePathAndHowToFetch) {
  FidInceptionV3 model;
  try {
    load_weights(model, "/nonexistent/fid_inception_v3.safetensors");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("/nonexistent/fid_inception_v3.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("get_fid_inception.sh"), std::string::npos) << msg;
  }
}

TEST(FidInceptionWeights, DefaultPathFollowsTheEnvironment) {
  auto with_env = [](const char* name, const char* value, auto&& body) {
    const char* old = std::getenv(name);
    const std::string saved = old ? old : "";
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
    body();
    if (old)
      setenv(name, saved.c_str(), 1);
    else
      unsetenv(name);
  };
  with_env("KITE_FID_WEIGHTS", nullptr, [&] {
    with_env("KITE_CACHE_DIR", "/tmp/kc",
             [] { EXPECT_EQ(default_weights_path(), "/tmp/kc/fid_inception_v3.safetensors"); });
    with_env("KITE_CACHE_DIR", nullptr, [&] {
      with_env("XDG_CACHE_HOME", "/tmp/xdg", [] {
        EXPECT_EQ(default_weights_path(), "/tmp/xdg/kite/fid_inception_v3.safetensors");
      });
      with_env("XDG_CACHE_HOME", nullptr, [&] {
        with_env("HOME", "/home/u", [] {
          EXPECT_EQ(default_weights_path(), "/home/u/.cache/kite/fid_inception_v3.safetensors");
        });
      });
    });
  });
  with_env("KITE_FID_WEIGHTS", "/w/x.safetensors",
           [] { EXPECT_EQ(default_weights_path(), "/w/x.safetensors"); });
}

}  // namespace
}  // namespace kite::inception
