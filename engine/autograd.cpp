// The backward engine: records nodes, then walks the graph once in reverse topological
// order, summing the gradients that meet at each node (see autograd.h).
#include "engine/autograd.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "engine/error.h"

namespace kite {
namespace {

thread_local bool grad_mode_enabled = true;
thread_local autograd::GradReadyHook grad_ready_hook;
autograd::GradientOps gradient_ops;

const autograd::GradientOps& ops() {
  KITE_CHECK(gradient_ops.add != nullptr,
             "autograd: the ops library did not register its gradient ops (is kite_ops linked?)");
  return gradient_ops;
}

// The node that receives the gradient of tensor t: its grad_fn, or its leaf accumulator.
std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  if (t.grad_fn()) return t.grad_fn();
  std::shared_ptr<Node> acc = t.impl()->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    t.impl()->grad_accumulator = acc;
  }
  return acc;
}

}  // namespace

bool grad_enabled() { return grad_mode_enabled; }
GradModeGuard::GradModeGuard(bool enabled) : previous_(grad_mode_enabled) {
  grad_mode_enabled = enabled;
}
GradModeGuard::~GradModeGuard() { grad_mode_enabled = previous_; }

const Tensor& BackwardContext::output() const {
  KITE_CHECK(output_.defined(),
             "autograd: backward asked for the output of an op that did not save it");
  return output_;
}

std::vector<Tensor> FunctionNode::apply(const Tensor& grad) {
  KITE_CHECK(backward_ != nullptr,
             "autograd: " << name_
                          << ": the graph was already freed by an earlier backward; "
                             "pass create_graph = true to differentiate through it twice");
  std::vector<bool> needs(next.size());
  for (size_t i = 0; i < next.size(); ++i) needs[i] = next[i] != nullptr;
  Tensor output;
  if (saved_output) {
    auto impl = std::make_shared<TensorImpl>(*saved_output);
    impl->grad_fn = shared_from_this();
    impl->requires_grad = true;
    output = Tensor(std::move(impl));
  }
  std::vector<Tensor> grads = backward_(grad, BackwardContext(needs, output));
  KITE_CHECK(grads.size() == next.size(), "autograd: " << name_ << " backward returned "
                                                       << grads.size() << " gradients for "
                                                       << next.size() << " inputs");
  return grads;
}

void FunctionNode::release() {
  backward_ = nullptr;
  saved_output.reset();
}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& grad) {
  KITE_CHECK(grad.shape() == leaf_->shape, "autograd: gradient of shape "
                                               << shape_str(grad.shape()) << " for a leaf of shape "
                                               << shape_str(leaf_->shape));
  Tensor leaf(leaf_);
  if (!leaf.grad().defined()) {
    // A fresh tensor, so in-place updates of one .grad (clipping, optimizers) never reach
    // another leaf that received the same gradient tensor.
    leaf.set_grad(grad_enabled() ? grad : ops().clone(grad));
  } else {
    leaf.set_grad(ops().add(leaf.grad(), grad));
  }
  if (grad_ready_hook) grad_ready_hook(leaf);
  return {};
}

namespace autograd {

void set_gradient_ops(const GradientOps& ops) { gradient_ops = ops; }

GradReadyHook set_grad_ready_hook(GradReadyHook hook) {
  std::swap(hook, grad_ready_hook);
  return hook;
}

namespace {

template <class Tensors>
bool any_needs_grad(const Tensors& inputs) {
  if (!grad_mode_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

}  // namespace

bool needs_record(const std::vector<Tensor>& inputs) { return any_needs_grad(inputs); }
bool needs_record(TensorRefs inputs) { return any_needs_grad(inputs); }

void record(const char* name, const std::vector<Tensor>& inputs, Tensor& output,
            BackwardFn backward, SaveOutput save_output) {
  if (!needs_record(inputs)) return;
  auto node = std::make_shared<FunctionNode>(name, std::move(backward));
  node->next.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) node->next[i] = gradient_edge(inputs[i]);
  if (save_output == SaveOutput::Yes) {
    node->saved_output = std::make_shared<TensorImpl>(*output.impl());
    node->saved_output->grad_fn.reset();
    node->saved_output->requires_grad = false;
  }
  output.impl()->grad_fn = std::move(node);
  output.impl()->requires_grad = true;
}

namespace {

// Runs the graph below `outputs`. With `captures` empty, gradients reaching leaves are
// accumulated into .grad; otherwise the gradient arriving at each capture node is returned
// and no .grad is touched.
std::vector<Tensor> run_backward(const std::vector<Tensor>& outputs,
                                 const std::vector<Tensor>& grad_outputs, bool create_graph,
                                 const std::vector<std::shared_ptr<Node>>& captures) {
  KITE_CHECK(
      grad_outputs.empty() || grad_outputs.size() == outputs.size(),
      "backward: " << outputs.size() << " outputs but " << grad_outputs.size() << " grad_outputs");
  std::unordered_map<Node*, Tensor> buffers;
  std::vector<std::shared_ptr<Node>> roots;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    KITE_CHECK(out.defined() && out.requires_grad(),
               "backward: output " << i << " does not require grad (nothing to differentiate)");
    Tensor seed = i < grad_outputs.size() ? grad_outputs[i] : Tensor();
    if (!seed.defined()) {
      KITE_CHECK(out.numel() == 1,
                 "backward: grad_output can be omitted only for scalar outputs, "
                 "output "
                     << i << " has shape " << shape_str(out.shape()));
      seed = ops().ones_like(out);
    }
    KITE_CHECK(seed.shape() == out.shape(), "backward: grad_output shape "
                                                << shape_str(seed.shape())
                                                << " does not match output "
                                                << shape_str(out.shape()));
    std::shared_ptr<Node> root = gradient_edge(out);
    Tensor& buffer = buffers[root.get()];
    buffer = buffer.defined() ? ops().add(buffer, seed) : seed;
    roots.push_back(root);
  }

  // Count, for each reachable node, how many edges point at it.
  std::unordered_map<Node*, int> dependencies;
  std::unordered_set<Node*> seen;
  std::vector<Node*> stack;
  for (auto& root : roots)
    if (seen.insert(root.get()).second) stack.push_back(root.get());
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (auto& next : node->next) {
      if (!next) continue;
      dependencies[next.get()]++;
      if (seen.insert(next.get()).second) stack.push_back(next.get());
    }
  }

  std::unordered_map<Node*, size_t> capture_index;
  for (size_t i = 0; i < captures.size(); ++i)
    if (captures[i]) capture_index[captures[i].get()] = i;
  std::vector<Tensor> captured(captures.size());

  // In grad() mode, only nodes with a path to a capture need to run.
  std::unordered_map<Node*, bool> useful;
  std::function<bool(Node*)> leads_to_capture = [&](Node* node) -> bool {
    auto it = useful.find(node);
    if (it != useful.end()) return it->second;
    useful[node] = false;
    bool result = capture_index.count(node) > 0;
    for (auto& next : node->next)
      if (next && leads_to_capture(next.get())) result = true;
    return useful[node] = result;
  };

  GradModeGuard grad_mode(create_graph);
  std::vector<Node*> ready;
  for (auto& root : roots)
    if (dependencies[root.get()] == 0 &&
        std::find(ready.begin(), ready.end(), root.get()) == ready.end())
      ready.push_back(root.get());

  while (!ready.empty()) {
    Node* node = ready.back();
    ready.pop_back();
    Tensor grad;
    if (auto it = buffers.find(node); it != buffers.end()) {
      grad = std::move(it->second);
      buffers.erase(it);
    }
    std::vector<Tensor> input_grads;
    if (grad.defined()) {
      if (auto it = capture_index.find(node); it != capture_index.end())
        captured[it->second] = grad;
      // In grad() mode a node runs only when something below it is captured: a captured
      // node's own inputs matter only if they lead to another capture.
      bool run = captures.empty();
      if (!run && dynamic_cast<AccumulateGrad*>(node) == nullptr)
        for (auto& next : node->next)
          if (next && leads_to_capture(next.get())) run = true;
      if (run) {
        input_grads = node->apply(grad);
        if (!create_graph) node->release();
      }
    }
    for (size_t i = 0; i < node->next.size(); ++i) {
      Node* next = node->next[i].get();
      if (!next) continue;
      if (i < input_grads.size() && input_grads[i].defined()) {
        Tensor& buffer = buffers[next];
        buffer = buffer.defined() ? ops().add(buffer, input_grads[i]) : input_grads[i];
      }
      if (--dependencies[next] == 0) ready.push_back(next);
    }
  }
  return captured;
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              bool create_graph) {
  run_backward(outputs, grad_outputs, create_graph, {});
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool create_graph,
                         bool allow_unused) {
  std::vector<std::shared_ptr<Node>> captures;
  for (size_t i = 0; i < inputs.size(); ++i) {
    KITE_CHECK(inputs[i].defined() && inputs[i].requires_grad(),
               "grad: input " << i << " does not require grad");
    captures.push_back(gradient_edge(inputs[i]));
  }
  std::vector<Tensor> result = run_backward(outputs, grad_outputs, create_graph, captures);
  for (size_t i = 0; i < result.size(); ++i)
    KITE_CHECK(allow_unused || result[i].defined(),
               "grad: input " << i << " was not used to compute the outputs (pass allow_unused)");
  return result;
}

}  // namespace autograd
}  // namespace kite
