// Reverse-mode automatic differentiation on a dynamic graph.
//
// Each op whose inputs require grad records a Node: a backward function written with the
// public ops (one formula per input, like PyTorch's derivatives.yaml) and one edge per input
// to the node that receives that input's gradient. Leaves get an AccumulateGrad node.
// Because backward formulas are ordinary ops, running backward with create_graph = true
// records the backward pass itself, and gradients of gradients work.
//
// Every node has exactly one output (ops with several results, like split, are several
// single-output ops), which keeps the engine small.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace kite {

// What a backward function can ask about the node it runs in.
class BackwardContext {
 public:
  BackwardContext(const std::vector<bool>& needs, const Tensor& output)
      : needs_(needs), output_(output) {}
  // Whether input i needs a gradient; formulas may return an undefined Tensor otherwise.
  bool needs_grad(size_t i) const { return needs_[i]; }
  // The op's output, connected to the graph (only for ops recorded with SaveOutput::Yes).
  const Tensor& output() const;

 private:
  const std::vector<bool>& needs_;
  const Tensor& output_;
};

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad, const BackwardContext&)>;

class Node : public std::enable_shared_from_this<Node> {
 public:
  virtual ~Node() = default;
  virtual std::string name() const = 0;
  // One gradient per input (undefined when the input needs none).
  virtual std::vector<Tensor> apply(const Tensor& grad) = 0;
  // Drops saved tensors once the graph has been used (backward without create_graph).
  virtual void release() {}

  // next[i] receives the gradient of input i; null when input i does not require grad.
  std::vector<std::shared_ptr<Node>> next;
};

// The node of an op: its backward formula and (optionally) its saved output.
class FunctionNode final : public Node {
 public:
  FunctionNode(std::string name, BackwardFn backward)
      : name_(std::move(name)), backward_(std::move(backward)) {}
  std::string name() const override { return name_; }
  std::vector<Tensor> apply(const Tensor& grad) override;
  void release() override;

  // The output stored without its grad_fn (storing it whole would make a reference cycle);
  // BackwardContext::output() reattaches this node.
  std::shared_ptr<TensorImpl> saved_output;

 private:
  std::string name_;
  BackwardFn backward_;
};

// The sink for a leaf: adds the incoming gradient into the leaf's .grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  std::string name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(const Tensor& grad) override;
  const std::shared_ptr<TensorImpl>& leaf() const { return leaf_; }

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// Grad mode: when disabled, ops record nothing (optimizer steps, evaluation, backward
// without create_graph). Thread-local, like PyTorch.
bool grad_enabled();
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled);
  ~GradModeGuard();
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};
class NoGradGuard : public GradModeGuard {
 public:
  NoGradGuard() : GradModeGuard(false) {}
};

namespace autograd {

enum class SaveOutput { No, Yes };

// A braced list of an op's inputs, as ops write it: {a, b}. It refers to the caller's tensors
// rather than copying them: a copy of a Tensor is an atomic reference-count update, and every
// forward makes this list whether or not it records anything.
using TensorRefs = std::initializer_list<std::reference_wrapper<const Tensor>>;

// True when an op on these inputs must record a node.
bool needs_record(const std::vector<Tensor>& inputs);
bool needs_record(TensorRefs inputs);

// Records `output` as produced by op `name` from `inputs` with the given backward formula.
// Does nothing when grad mode is off or no input requires grad.
void record(const char* name, const std::vector<Tensor>& inputs, Tensor& output,
            BackwardFn backward, SaveOutput save_output = SaveOutput::No);

// The same for a braced list of inputs: record("mul", {a, b}, out, [..]{..}). Every forward
// calls this, and most calls record nothing (inference, optimizer steps, constants), so the
// inputs stay references and the formula stays a lambda until a node is made: a std::vector
// and a BackwardFn holding the lambda's captures would cost two heap allocations per op even
// then.
template <class Formula>
void record(const char* name, TensorRefs inputs, Tensor& output, Formula&& backward,
            SaveOutput save_output = SaveOutput::No) {
  if (!needs_record(inputs)) return;
  record(name, std::vector<Tensor>(inputs.begin(), inputs.end()), output,
         BackwardFn(std::forward<Formula>(backward)), save_output);
}

// Accumulates gradients of `outputs` (seeded with `grad_outputs`, ones for scalars when
// undefined) into the .grad of every leaf that requires grad.
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              bool create_graph = false);

// Returns d(outputs)/d(inputs) contracted with grad_outputs, without touching any .grad.
// With create_graph the results are connected to the graph and can be differentiated again.
// An input that the outputs do not depend on gets an undefined tensor unless allow_unused is
// false, in which case it is an error.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool create_graph = false,
                         bool allow_unused = false);

// Called by backward() once a leaf's .grad holds everything this backward pass contributes
// to it (once per leaf and pass), while the rest of the pass still runs: data-parallel
// training starts all-reducing finished gradients here, overlapping communication with the
// remaining backward computation. One hook per thread (backward runs on the calling thread);
// set_grad_ready_hook returns the previous one so that callers can restore it. grad() never
// calls it (it touches no .grad).
using GradReadyHook = std::function<void(const Tensor& leaf)>;
GradReadyHook set_grad_ready_hook(GradReadyHook hook);

// The few ops the engine itself needs while running backward: summing gradients that meet at
// a node, seeding a scalar output with 1, and giving each leaf a .grad of its own. They are
// set by the ops library (ops/elementwise.cpp), because the engine sits below the ops.
struct GradientOps {
  Tensor (*add)(const Tensor&, const Tensor&) = nullptr;
  Tensor (*ones_like)(const Tensor&) = nullptr;
  Tensor (*clone)(const Tensor&) = nullptr;
};
void set_gradient_ops(const GradientOps& ops);

}  // namespace autograd
}  // namespace kite
