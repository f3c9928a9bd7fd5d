// Shared pieces of the multi-process tests: the communicator of this process (MPI under
// mpirun, single otherwise) and a small float64 conv net for the equivalence tests.
#pragma once

#include <memory>

#include "engine/communicator.h"
#include "engine/generator.h"
#include "models/nn/batchnorm.h"
#include "models/nn/conv.h"
#include "models/nn/layer.h"
#include "models/nn/linear.h"
#include "ops/ops.h"

namespace kite::testing_mpi {

// One per process: MPI is started once and finalised at exit.
inline std::shared_ptr<Communicator> world() {
  static std::shared_ptr<Communicator> communicator =
      make_communicator(CommunicatorKind::Auto, Device::cpu());
  return communicator;
}

// conv3x3 (2 -> 4) [+ BN] + LeakyReLU, conv3x3 (4 -> 3, stride 2) [+ BN] + LeakyReLU,
// global average pool, linear (3 -> 2). Same seed: same weights on every rank.
inline std::shared_ptr<nn::Sequential> small_conv_net(bool batch_norm, uint64_t seed) {
  Generator generator(seed);
  std::vector<std::shared_ptr<nn::Layer>> layers;
  layers.push_back(std::make_shared<nn::Conv2d>(2, 4, 3, Conv2dOptions{.padding = 1}, !batch_norm,
                                                DType::Float64, &generator));
  if (batch_norm)
    layers.push_back(std::make_shared<nn::BatchNorm2d>(4, nn::BatchNormOptions{}, DType::Float64));
  layers.push_back(
      std::make_shared<nn::Lambda>([](const Tensor& x) { return leaky_relu(x, 0.2); }));
  layers.push_back(std::make_shared<nn::Conv2d>(4, 3, 3, Conv2dOptions{.stride = 2, .padding = 1},
                                                !batch_norm, DType::Float64, &generator));
  if (batch_norm)
    layers.push_back(std::make_shared<nn::BatchNorm2d>(3, nn::BatchNormOptions{}, DType::Float64));
  layers.push_back(
      std::make_shared<nn::Lambda>([](const Tensor& x) { return leaky_relu(x, 0.2); }));
  layers.push_back(std::make_shared<nn::Lambda>([](const Tensor& x) { return mean(x, {2, 3}); }));
  layers.push_back(std::make_shared<nn::Linear>(3, 2, true, DType::Float64, &generator));
  return std::make_shared<nn::Sequential>(layers);
}

// A fixed data set of `n` 2x6x6 images and 2-d targets (the same on every rank).
struct Data {
  Tensor images, targets;
};
inline Data make_data(int64_t n, uint64_t seed) {
  Generator generator(seed);
  return {randn({n, 2, 6, 6}, DType::Float64, Device::cpu(), &generator),
          randn({n, 2}, DType::Float64, Device::cpu(), &generator)};
}

}  // namespace kite::testing_mpi
