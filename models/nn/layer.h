// Layer: a Module with one input and one output, so layers compose with Sequential.
// (Modules with other signatures, like flow blocks returning a log-determinant, derive
// from Module directly.)
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/generator.h"
#include "models/nn/module.h"

namespace kite::nn {

class Layer : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

// Runs layers in order; children are named "0", "1", ... like PyTorch's nn.Sequential.
class Sequential : public Layer {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Layer>> layers);
  void push_back(std::shared_ptr<Layer> layer);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return layers_.size(); }
  const std::shared_ptr<Layer>& operator[](size_t i) const { return layers_[i]; }

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

// A parameter-free layer from a function (activations, reshapes).
class Lambda : public Layer {
 public:
  explicit Lambda(std::function<Tensor(const Tensor&)> fn) : fn_(std::move(fn)) {}
  Tensor forward(const Tensor& x) override { return fn_(x); }

 private:
  std::function<Tensor(const Tensor&)> fn_;
};

}  // namespace kite::nn
