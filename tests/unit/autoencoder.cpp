// The stage-1 autoencoder (models/ae/): configurations, shapes for 28/32/64 inputs, parameter
// names and counts, and agreement with an independent PyTorch implementation of the same
// architecture (tests/reference/ae_reference.safetensors, made by make_ae_fixture.py):
// outputs, loss, every parameter gradient and BatchNorm running statistics.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/checkpoint.h"
#include "engine/gradcheck.h"
#include "models/ae/autoencoder.h"
#include "models/ae/decoder_variance.h"
#include "models/ae/latent_noise.h"
#include "ops/conv.h"
#include "ops/norm.h"
#include "ops/ops.h"

namespace kite::ae {
namespace {

bool has_name(const nn::NamedTensors& named, const std::string& name) {
  for (auto& [n, t] : named)
    if (n == name) return true;
  return false;
}

template <class Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    FAIL() << "expected kite::Error";
  } catch (const Error& e) {
    for (const auto& fragment : fragments)
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
          << e.what() << "\nmissing: " << fragment;
  }
}

TEST(AutoencoderConfig, DefaultIsTheAuthors28x28Model) {
  AutoencoderConfig config;
  EXPECT_EQ(config.image_size, 28);
  EXPECT_EQ(config.image_channels, 1);
  EXPECT_EQ(config.channels, (std::vector<int64_t>{64, 128}));
  EXPECT_EQ(config.latent_dim, 32);
  EXPECT_EQ(config.bottom_size(), 7);
  EXPECT_EQ(AutoencoderConfig::for_image(28, 1), config);
  EXPECT_EQ(config.describe(), "28x28x1, channels 64,128, latent 32");
  // The authors' CelebA model.
  AutoencoderConfig celeba = AutoencoderConfig::for_image(256, 3);
  EXPECT_EQ(celeba.channels, (std::vector<int64_t>{64, 128, 256, 512, 512, 512}));
  EXPECT_EQ(celeba.latent_dim, 256);
  EXPECT_EQ(celeba.bottom_size(), 4);
  for (int64_t size : {32, 64, 128})
    EXPECT_EQ(AutoencoderConfig::for_image(size, 3).bottom_size(), 4);
}

TEST(AutoencoderConfig, RejectsInconsistentSettings) {
  expect_error([] { AutoencoderConfig::for_image(48, 1); }, {"no default configuration", "48"});
  AutoencoderConfig odd;
  odd.image_size = 30;
  expect_error([&] { odd.validate(); }, {"30", "divisible by 4"});
  AutoencoderConfig two_channels;
  two_channels.image_channels = 2;
  expect_error([&] { Autoencoder model(two_channels); }, {"image channels must be 1 or 3"});
  AutoencoderConfig no_widths;
  no_widths.channels = {};
  expect_error([&] { no_widths.validate(); }, {"channel list"});
}

// The authors' 28x28 model, counted layer by layer from the architecture (not from the code).
TEST(Autoencoder, DefaultModelHasTheExpectedParameters) {
  Autoencoder model;
  auto block = [](int64_t in, int64_t out) {
    int64_t n = in * out * 9 + out * out * 9 + 4 * out;  // two 3x3 convs, two BNs (weight + bias)
    if (in != out) n += in * out;                        // 1x1 expand
    return n;
  };
  const int64_t encoder =
      1 * 64 * 25 + 2 * 64 + block(64, 128) + block(128, 128) + (128 * 7 * 7 * 32 + 32);
  const int64_t decoder = (32 * 128 * 49 + 128 * 49) + block(128, 128) + block(128, 64) +
                          block(64, 64) + (64 * 1 * 25 + 1);
  EXPECT_EQ(model.encoder->num_parameters(), encoder);
  EXPECT_EQ(model.decoder->num_parameters(), decoder);
  EXPECT_EQ(model.num_parameters(), encoder + decoder);

  const nn::NamedTensors params = model.named_parameters();
  EXPECT_TRUE(has_name(params, "encoder.conv_in.weight"));
  EXPECT_FALSE(has_name(params, "encoder.conv_in.bias"));  // followed by BatchNorm
  EXPECT_TRUE(has_name(params, "encoder.res0.conv_expand.weight"));
  EXPECT_FALSE(has_name(params, "encoder.res1.conv_expand.weight"));  // 128 -> 128
  EXPECT_TRUE(has_name(params, "decoder.res1.conv_expand.weight"));   // 128 -> 64
  EXPECT_TRUE(has_name(params, "decoder.conv_out.bias"));
  EXPECT_TRUE(has_name(model.named_buffers(), "decoder.res2.bn2.running_var"));
  // 1 + 2 * 2 BatchNorms in the encoder, 3 * 2 in the decoder, 3 buffers each.
  EXPECT_EQ(model.named_buffers().size(), 3u * (5 + 6));
}

struct ShapeCase {
  int64_t size, channels;
};

class AutoencoderShapes : public ::testing::TestWithParam<ShapeCase> {};

TEST_P(AutoencoderShapes, DefaultConfigurationsMapImagesToCodesAndBack) {
  const auto [size, channels] = GetParam();
  manual_seed(1);
  AutoencoderConfig config = AutoencoderConfig::for_image(size, channels);
  Autoencoder model(config);
  Tensor x = rand({2, channels, size, size});
  Tensor z = model.encode(x);
  EXPECT_EQ(z.shape(), (Shape{2, config.latent_dim}));
  Tensor y = model.decode(z);
  EXPECT_EQ(y.shape(), (Shape{2, channels, size, size}));
  for (double v : to_double_vector(y)) ASSERT_TRUE(std::isfinite(v));
  EXPECT_EQ(model(x).shape(), x.shape());
  // Evaluation mode uses running statistics: a batch of one works and is deterministic.
  model.eval();
  Tensor one = narrow(x, 0, 0, 1);
  EXPECT_EQ(to_double_vector(model(one)), to_double_vector(model(one)));
}

INSTANTIATE_TEST_SUITE_P(Sizes, AutoencoderShapes,
                         ::testing::Values(ShapeCase{28, 1}, ShapeCase{32, 3}, ShapeCase{64, 3},
                                           ShapeCase{28, 3}, ShapeCase{32, 1}),
                         [](const auto& info) {
                           return std::to_string(info.param.size) + "x" +
                                  std::to_string(info.param.channels);
                         });

TEST(Autoencoder, RejectsWronglyShapedInputs) {
  Autoencoder model;
  expect_error(
      [&] {
        model.encode(rand({2, 1, 32, 32}));
      },
      {"Encoder", "[N, 1, 28, 28]", "float32[2, 1, 32, 32]"});
  expect_error([&] { model.encode(rand({2, 3, 28, 28})); }, {"Encoder", "[N, 1, 28, 28]"});
  expect_error([&] { model.decode(rand({2, 16})); }, {"Decoder", "[N, 32]", "float32[2, 16]"});
}

TEST(Autoencoder, CustomWidthsAndSeededInitialisation) {
  AutoencoderConfig config;
  config.image_size = 32;
  config.image_channels = 3;
  config.channels = {8, 16, 16};
  config.latent_dim = 5;
  Generator g1(9), g2(9), g3(10);
  Autoencoder a(config, DType::Float32, &g1), b(config, DType::Float32, &g2),
      c(config, DType::Float32, &g3);
  auto sa = a.state_dict(), sb = b.state_dict(), sc = c.state_dict();
  EXPECT_EQ(to_double_vector(sa.at("decoder.res1.conv1.weight")),
            to_double_vector(sb.at("decoder.res1.conv1.weight")));
  EXPECT_NE(to_double_vector(sa.at("decoder.res1.conv1.weight")),
            to_double_vector(sc.at("decoder.res1.conv1.weight")));
  EXPECT_EQ(a.encode(rand({3, 3, 32, 32})).shape(), (Shape{3, 5}));
  // Three widths: the encoder has blocks res0..res2, the decoder res0..res3.
  EXPECT_EQ(sa.count("encoder.res2.conv1.weight"), 1u);
  EXPECT_EQ(sa.count("encoder.res3.conv1.weight"), 0u);
  EXPECT_EQ(sa.count("decoder.res3.conv1.weight"), 1u);
  EXPECT_EQ(sa.at("encoder.fc.weight").shape(), (Shape{5, 16 * 4 * 4}));
}

TEST(LatentNoise, ScalesWithEachDimensionsSpreadAndPassesGradientsThrough) {
  // Two latent dimensions whose spreads differ by 100x: the noise follows each one.
  const int64_t n = 20000;
  std::vector<double> values(2 * n);
  Generator data(3);
  const std::vector<double> normal =
      to_double_vector(randn({n, 2}, DType::Float64, Device::cpu(), &data));
  for (int64_t i = 0; i < n; ++i)
    values[2 * i] = normal[2 * i], values[2 * i + 1] = 100 * normal[2 * i + 1];
  Tensor codes = Tensor::from_vector(values, {n, 2});
  codes.set_requires_grad(true);
  Generator g1(5), g2(5);
  const Tensor jittered = jitter_codes(codes, 0.25, &g1);
  const std::vector<double> noise = to_double_vector(sub(jittered, codes).detach());
  for (int64_t d = 0; d < 2; ++d) {
    double sum_sq = 0;
    for (int64_t i = 0; i < n; ++i) sum_sq += noise[2 * i + d] * noise[2 * i + d];
    const double spread = d == 0 ? 1.0 : 100.0;
    EXPECT_NEAR(std::sqrt(sum_sq / n), 0.25 * spread, 0.25 * spread * 0.03) << "dimension " << d;
  }
  // Seeded: the same generator state gives the same noise.
  EXPECT_EQ(to_double_vector(jittered.detach()),
            to_double_vector(jitter_codes(codes, 0.25, &g2).detach()));
  // The spread is a constant: d sum(jittered) / d codes = 1 everywhere.
  sum(jittered).backward();
  for (double g : to_double_vector(codes.grad())) ASSERT_EQ(g, 1.0);
  // s = 0 is the identity (the same tensor), bad arguments are named.
  EXPECT_TRUE(jitter_codes(codes, 0, &g1).is_same(codes));
  expect_error([&] { jitter_codes(codes, -1, &g1); }, {"jitter_codes", ">= 0"});
  expect_error([&] { jitter_codes(rand({1, 3}), 0.1, &g1); }, {"jitter_codes", "[N >= 2, latent]"});
}

TEST(DecoderVariance, LossGradientsAndOptimumAtTheMse) {
  DecoderVariance variance(DType::Float64);
  EXPECT_DOUBLE_EQ(variance.gamma(), 1.0);
  ASSERT_EQ(variance.parameters().size(), 1u);
  {
    NoGradGuard no_grad;
    fill_(variance.log_gamma, -3.0);
  }
  const double mse_value = 0.02;
  Tensor mse = full({}, mse_value, DType::Float64).set_requires_grad(true);
  Tensor loss = variance.loss(mse);
  EXPECT_NEAR(loss.item<double>(), mse_value / (2 * std::exp(-3.0)) - 1.5, 1e-14);
  EXPECT_NEAR(variance.gamma(), std::exp(-3.0), 1e-15);

  // Float64 finite differences in the MSE and in log gamma.
  auto f = [&](const std::vector<Tensor>& in) { return variance.loss(in[0]); };
  GradcheckResult r = gradcheck(f, {mse, variance.log_gamma});
  EXPECT_TRUE(r.ok) << r.message;

  // The network's gradient is the MSE's divided by 2 gamma, and log gamma's vanishes at
  // gamma = MSE (the likelihood's optimum).
  loss.backward();
  EXPECT_NEAR(mse.grad().item<double>(), 1 / (2 * std::exp(-3.0)), 1e-12);
  {
    NoGradGuard no_grad;
    fill_(variance.log_gamma, std::log(mse_value));
  }
  variance.zero_grad();
  variance.loss(mse).backward();
  EXPECT_NEAR(variance.log_gamma.grad().item<double>(), 0.0, 1e-14);

  expect_error([&] { variance.loss(full({2}, 0.1, DType::Float64)); },
               {"DecoderVariance::loss", "one value"});
}

TEST(ResidualBlock, MatchesItsDefinitionAndPassesGradcheck) {
  manual_seed(4);
  ResidualBlock block(2, 3, DType::Float64);
  ASSERT_NE(block.conv_expand, nullptr);
  Tensor x = randn({2, 2, 4, 4}, DType::Float64);
  // out = leaky(bn2(conv2(leaky(bn1(conv1 x)))) + expand x), BN in training mode.
  auto bn = [](const Tensor& h) {
    return batch_norm(h, Tensor(), Tensor(), Tensor(), Tensor(), true);
  };
  // Fresh BatchNorms have weight 1 and bias 0, so plain batch normalisation is the same map.
  Tensor h = leaky_relu(bn(conv2d(x, block.conv1->weight, Tensor(), {.padding = 1})), 0.2);
  h = bn(conv2d(h, block.conv2->weight, Tensor(), {.padding = 1}));
  Tensor expected = leaky_relu(h + conv2d(x, block.conv_expand->weight), 0.2);
  std::vector<double> got = to_double_vector(block(x)), want = to_double_vector(expected);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12);

  ResidualBlock same(3, 3, DType::Float64);
  EXPECT_EQ(same.conv_expand, nullptr);

  Tensor input = randn({2, 2, 4, 4}, DType::Float64).set_requires_grad(true);
  GradcheckResult result =
      gradcheck([&](const std::vector<Tensor>& in) { return block(in[0]); }, {input});
  EXPECT_TRUE(result.ok) << result.message;
}

// --- Agreement with PyTorch ----------------------------------------------------------------

class AutoencoderVsPyTorch : public ::testing::TestWithParam<DType> {
 protected:
  static void SetUpTestSuite() {
    const std::string path = std::string(KITE_TEST_REFERENCE_DIR) + "/ae_reference.safetensors";
    reference_ = new Checkpoint(load_checkpoint(path));
  }
  static void TearDownTestSuite() {
    delete reference_;
    reference_ = nullptr;
  }
  static const Tensor& ref(const std::string& name) {
    auto it = reference_->tensors.find(name);
    if (it == reference_->tensors.end()) throw Error("ae_reference.safetensors lacks " + name);
    return it->second;
  }
  static std::map<std::string, Tensor> under(const std::string& prefix) {
    std::map<std::string, Tensor> out;
    for (auto& [name, t] : reference_->tensors)
      if (name.rfind(prefix, 0) == 0) out[name.substr(prefix.size())] = t;
    return out;
  }
  // |got - want| <= atol + rtol * max|want| elementwise, reporting the worst element.
  static void expect_close(const Tensor& got, const Tensor& want, double rtol,
                           const std::string& what) {
    ASSERT_EQ(got.shape(), want.shape()) << what;
    std::vector<double> g = to_double_vector(got), w = to_double_vector(want);
    double scale = 0;
    for (double v : w) scale = std::max(scale, std::abs(v));
    double worst = 0;
    size_t worst_index = 0;
    for (size_t i = 0; i < g.size(); ++i)
      if (std::abs(g[i] - w[i]) > worst) worst = std::abs(g[i] - w[i]), worst_index = i;
    EXPECT_LE(worst, rtol * (scale + 1e-30))
        << what << ": element " << worst_index << " is " << g[worst_index] << ", PyTorch "
        << w[worst_index] << " (scale " << scale << ")";
  }

  static Checkpoint* reference_;
};

Checkpoint* AutoencoderVsPyTorch::reference_ = nullptr;

TEST_P(AutoencoderVsPyTorch, OutputsGradientsAndRunningStatisticsMatch) {
  const DType dtype = GetParam();
  // Float64 agrees to rounding; float32 to float32 rounding amplified through ~15 layers.
  const double rtol = dtype == DType::Float64 ? 1e-10 : 2e-4;
  for (const auto& [case_name, config_text] : reference_->metadata) {
    SCOPED_TRACE(case_name);
    const nlohmann::json json = nlohmann::json::parse(config_text);
    AutoencoderConfig config;
    config.image_size = json["image_size"];
    config.image_channels = json["image_channels"];
    config.channels = json["channels"].get<std::vector<int64_t>>();
    config.latent_dim = json["latent_dim"];
    Autoencoder model(config, dtype);
    // Strict: the names of kite's parameters and buffers are exactly PyTorch's.
    model.load_state_dict(under(case_name + "/param/"), true);

    const Tensor x = to_dtype(ref(case_name + "/input"), dtype);
    model.train();
    Tensor output = model(x);
    Tensor loss = mse_loss(output, x);
    loss.backward();
    expect_close(output, ref(case_name + "/train/output"), rtol, "training output");
    expect_close(loss, ref(case_name + "/train/loss"), rtol, "loss");
    for (auto& [name, param] : model.named_parameters()) {
      ASSERT_TRUE(param.grad().defined()) << name;
      expect_close(param.grad(), ref(case_name + "/train/grad/" + name),
                   dtype == DType::Float64 ? 1e-9 : 2e-3, "gradient of " + name);
    }
    for (auto& [name, buffer] : model.named_buffers()) {
      if (buffer.dtype() == DType::Int64)
        EXPECT_EQ(buffer.item<int64_t>(), ref(case_name + "/train/buffer/" + name).item<int64_t>())
            << name;
      else
        expect_close(buffer, ref(case_name + "/train/buffer/" + name), rtol, "buffer " + name);
    }
    model.eval();
    NoGradGuard no_grad;
    expect_close(model(x), ref(case_name + "/eval/output"), rtol, "evaluation output");
    expect_close(model.encode(x), ref(case_name + "/eval/codes"), rtol, "codes");
  }
}

INSTANTIATE_TEST_SUITE_P(DTypes, AutoencoderVsPyTorch,
                         ::testing::Values(DType::Float64, DType::Float32),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// --- Checkpoints ----------------------------------------------------------------------------

TEST(AutoencoderCheckpoint, RoundTripsAndReportsDamageClearly) {
  AutoencoderConfig config;
  config.channels = {4, 8};
  config.latent_dim = 3;
  Generator g(2);
  Autoencoder model(config, DType::Float32, &g);
  model(rand({4, 1, 28, 28}));  // moves the running statistics off their initial values
  const std::string dir = ::testing::TempDir() + "/kite_ae_checkpoint_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/model.safetensors";
  save_checkpoint(path, {model.state_dict(), {{"note", "test"}}});

  Autoencoder restored(config);
  restored.load_state_dict(load_checkpoint(path).tensors);
  for (auto& [name, t] : model.state_dict())
    EXPECT_EQ(to_double_vector(t), to_double_vector(restored.state_dict().at(name))) << name;

  // A model of other widths: the error names the mismatching tensor and both shapes.
  AutoencoderConfig wider = config;
  wider.channels = {4, 16};
  Autoencoder other(wider);
  expect_error(
      [&] { other.load_state_dict(load_checkpoint(path).tensors); },
      {"load_state_dict", "encoder.res0.conv_expand.weight", "[8, 4, 1, 1]", "[16, 4, 1, 1]"});

  // A truncated file: the reader names the file.
  const auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size / 2);
  expect_error([&] { load_checkpoint(path); }, {path});
  // Garbage.
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << "this is not a checkpoint at all";
  }
  expect_error([&] { load_checkpoint(path); }, {path});
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kite::ae
