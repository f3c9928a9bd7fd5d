// The GPU code paths, checked without a GPU: a host-backed stand-in takes the CUDA device slot
// (tests/support/host_device.h), so "cuda:0" tensors run the CPU's kernels. Everything here
// must then give the CPU's numbers exactly (or within the op table's float tolerances), and
// above all must not mix devices. Checked: every row of the op table and the large-shape
// rows (the same checks as the GPU parity tests); the index check; the data loader's batches;
// training steps of the autoencoder, the i-ResNet flow (with its mixture base, sampling by
// inversion and the log-likelihood), the VAE, the Fashion-MNIST classifier and the 2-stage VAE's
// second stage, all moved with Module::to. A constant made on the CPU inside an op or a model fails
// here with "different devices", as it would on a real GPU.
#include <gtest/gtest.h>

#include <vector>

#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/generator.h"
#include "host_device.h"
#include "large_op_cases.h"
#include "models/ae/autoencoder.h"
#include "models/classifier/fmnist_classifier.h"
#include "models/flow/iresnet.h"
#include "models/optim/adam.h"
#include "models/vae/two_stage_vae.h"
#include "models/vae/vae.h"
#include "op_parity.h"
#include "ops/ops.h"

namespace kite {
namespace {

const Device kGpu = Device::cuda(0);

class HostBackedCuda : public ::testing::Environment {
 public:
  // After every static initialiser (the real CUDA library's registrar among them).
  void SetUp() override { test_support::install_host_backed_cuda(); }
};
::testing::Environment* const host_backed_cuda =
    ::testing::AddGlobalTestEnvironment(new HostBackedCuda);

TEST(HostDevice, TheStandInIsInPlace) {
  ASSERT_TRUE(has_backend(DeviceType::CUDA));
  EXPECT_EQ(backend_for(DeviceType::CUDA).device_count(), 1);
  const Tensor t = to_device(Tensor::from_vector(std::vector<double>{1, 2}, {2}), kGpu);
  EXPECT_EQ(t.device(), kGpu);
  EXPECT_EQ(to_double_vector(t * 2.0), (std::vector<double>{2, 4}));
}

TEST(HostDevice, OpTableMatchesTheCpu) {
  for (const OpCase& op_case : all_op_cases()) {
    SCOPED_TRACE(op_case.name);
    test_support::check_op_parity_all(op_case, kGpu);
  }
}

// The GPU test's large-shape rows (tests/support/large_op_cases.h), so that they are known to
// run (shapes, constants on the right device) before a GPU runs them.
TEST(HostDevice, LargeShapeRowsMatchTheCpu) {
  for (const OpCase& op_case : test_support::large_op_cases()) {
    SCOPED_TRACE(op_case.name);
    test_support::check_op_parity_all(op_case, kGpu);
  }
}

// A bad index on the device is refused before a kernel could use it as an address.
TEST(HostDevice, OutOfRangeIndexIsAnError) {
  const Tensor data = to_device(Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}), kGpu);
  const Tensor bad = to_device(Tensor::from_vector(std::vector<int64_t>{0, 3}, {2}), kGpu);
  EXPECT_THROW(index_select(data, 0, bad), Error);
  EXPECT_THROW(gather(data, 0, bad), Error);
}

// The loader's batches for a GPU (built on its background thread in pinned memory, erased and
// flipped there, moved to the device): the CPU loader's values, on the device.
TEST(HostDevice, LoaderBatchesMatchTheCpu) {
  auto set = std::make_shared<data::ImageSet>();
  set->n = 24;
  set->c = 1;
  set->h = 8;
  set->w = 8;
  for (int64_t i = 0; i < set->n * 64; ++i) set->pixels.push_back(static_cast<uint8_t>(i * 37));
  for (int64_t i = 0; i < set->n; ++i) set->labels.push_back(i % 10);
  const auto batches = [&](Device device) {
    data::DataLoader loader(set, {.batch_size = 10,
                                  .seed = 5,
                                  .dtype = DType::Float64,
                                  .device = device,
                                  .horizontal_flip = true,
                                  .random_erasing = true});
    std::vector<std::vector<double>> out;
    while (auto batch = loader.next()) {
      for (const Tensor& t : {batch->images, batch->targets, batch->labels}) {
        EXPECT_EQ(t.device(), device);
        out.push_back(to_double_vector(t));
      }
    }
    return out;
  };
  const auto cpu = batches(Device::cpu());
  EXPECT_EQ(cpu.size(), 9u);  // 3 batches (10, 10, 4) x images, targets, labels
  EXPECT_EQ(batches(kGpu), cpu);
}

// Runs `steps` training steps (Adam, gradients clipped) of the model made by `make` on
// `device`; returns the losses.
template <class Model, class Make, class Loss>
std::vector<double> train(Device device, int steps, Make make, Loss loss_of) {
  Generator generator(1234);
  Model model = make(&generator);
  model.to(device);
  model.train();
  optim::Adam optimizer(model.parameters(), AdamParams{.lr = 1e-3});
  std::vector<double> losses;
  for (int step = 0; step < steps; ++step) {
    optimizer.zero_grad();
    Tensor loss = loss_of(model, device, generator);
    loss.backward();
    std::vector<Tensor> grads;  // clipped as the training binaries do (norm, then scale)
    for (const Tensor& p : model.parameters())
      if (p.grad().defined()) grads.push_back(p.grad());
    clip_grad_norm_(grads, 0.5);
    optimizer.step();
    losses.push_back(loss.item<double>());
  }
  return losses;
}

TEST(HostDevice, AutoencoderTrainingMatchesTheCpu) {
  const auto make = [](Generator* g) {
    ae::AutoencoderConfig config;
    config.channels = {8, 16};
    config.latent_dim = 4;
    return ae::Autoencoder(config, DType::Float64, g);
  };
  const auto loss = [](ae::Autoencoder& model, Device device, Generator& g) {
    const Tensor x = to_device(rand({4, 1, 28, 28}, DType::Float64, Device::cpu(), &g), device);
    return mse_loss(model.forward(x), x);
  };
  const std::vector<double> cpu = train<ae::Autoencoder>(Device::cpu(), 3, make, loss);
  EXPECT_EQ(train<ae::Autoencoder>(kGpu, 3, make, loss), cpu);
}

TEST(HostDevice, FlowTrainingSamplingAndLikelihoodMatchTheCpu) {
  const auto make = [](Generator* g) {
    flow::IResNetConfig config;
    config.dim = 4;
    config.blocks = 2;
    config.hidden = 8;
    config.base_components = 3;
    return flow::IResNet(config, DType::Float64, g);
  };
  const auto loss = [](flow::IResNet& model, Device device, Generator& g) {
    const Tensor x = to_device(randn({16, 4}, DType::Float64, Device::cpu(), &g), device);
    return model.nll_per_dim(x);
  };
  const std::vector<double> cpu = train<flow::IResNet>(Device::cpu(), 3, make, loss);
  EXPECT_EQ(train<flow::IResNet>(kGpu, 3, make, loss), cpu);

  // Sampling (base draws, then the fixed-point inverse) and the log-likelihood, on each device.
  const auto sample_and_score = [&](Device device) {
    Generator generator(99);
    flow::IResNet model = make(&generator);
    model.to(device);
    model.eval();
    const Tensor samples = model.sample(5, &generator, 0.8);
    EXPECT_EQ(samples.device(), device);
    std::vector<double> out = to_double_vector(samples);
    const std::vector<double> log_p = to_double_vector(model.log_prob(samples));
    out.insert(out.end(), log_p.begin(), log_p.end());
    return out;
  };
  EXPECT_EQ(sample_and_score(kGpu), sample_and_score(Device::cpu()));
}

TEST(HostDevice, VaeTrainingMatchesTheCpu) {
  const auto make = [](Generator* g) {
    vae::VaeConfig config;
    config.architecture.channels = {8, 16};
    config.architecture.latent_dim = 4;
    config.learn_gamma = true;
    return vae::Vae(config, DType::Float64, g);
  };
  const auto loss = [](vae::Vae& model, Device device, Generator& g) {
    const Tensor x = to_device(rand({4, 1, 28, 28}, DType::Float64, Device::cpu(), &g), device);
    return model.loss(x, &g).total;
  };
  const std::vector<double> cpu = train<vae::Vae>(Device::cpu(), 3, make, loss);
  EXPECT_EQ(train<vae::Vae>(kGpu, 3, make, loss), cpu);
}

TEST(HostDevice, ClassifierTrainingMatchesTheCpu) {
  const auto make = [](Generator* g) { return classifier::FmnistClassifier(DType::Float64, g); };
  const auto loss = [](classifier::FmnistClassifier& model, Device device, Generator& g) {
    const Tensor x = to_device(rand({6, 1, 28, 28}, DType::Float64, Device::cpu(), &g), device);
    const Tensor labels =
        to_device(Tensor::from_vector(std::vector<int64_t>{0, 3, 9, 1, 1, 7}, {6}), device);
    return cross_entropy(model.forward(x), labels);
  };
  const std::vector<double> cpu = train<classifier::FmnistClassifier>(Device::cpu(), 3, make, loss);
  EXPECT_EQ(train<classifier::FmnistClassifier>(kGpu, 3, make, loss), cpu);
}

TEST(HostDevice, SecondStageVaeTrainingMatchesTheCpu) {
  const auto make = [](Generator* g) {
    return vae::SecondStage({.dim = 4, .hidden = 16, .depth = 2}, DType::Float64, g);
  };
  const auto loss = [](vae::SecondStage& model, Device device, Generator& g) {
    const Tensor z = to_device(randn({8, 4}, DType::Float64, Device::cpu(), &g), device);
    return model.loss(z, &g).total;
  };
  const std::vector<double> cpu = train<vae::SecondStage>(Device::cpu(), 3, make, loss);
  EXPECT_EQ(train<vae::SecondStage>(kGpu, 3, make, loss), cpu);
}

}  // namespace
}  // namespace kite
