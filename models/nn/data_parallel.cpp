// DataParallel (see data_parallel.h).
#include "models/nn/data_parallel.h"

#include <chrono>

#include "engine/error.h"
#include "ops/factory.h"
#include "ops/shape_ops.h"

namespace kite::nn {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

DataParallel::DataParallel(const Module& model, std::shared_ptr<Communicator> communicator,
                           DataParallelOptions options)
    : model_(model), communicator_(std::move(communicator)), options_(options) {
  KITE_CHECK(communicator_ != nullptr, "DataParallel: no communicator");
  KITE_CHECK(options_.bucket_mb >= 0,
             "DataParallel: bucket size must not be negative, got " << options_.bucket_mb);
  for (auto& [name, parameter] : model.named_parameters()) {
    index_of_[parameter.impl()] = static_cast<int>(parameters_.size());
    parameters_.push_back(parameter);
    names_.push_back(name);
  }
  const double capacity_bytes = options_.bucket_mb * 1e6;
  bucket_of_.assign(parameters_.size(), -1);
  slot_of_.assign(parameters_.size(), -1);
  copied_.assign(parameters_.size(), false);
  // Reverse order: the last layers' gradients are ready first.
  for (int i = static_cast<int>(parameters_.size()) - 1; i >= 0; --i) {
    const Tensor& p = parameters_[i];
    const double bytes = static_cast<double>(p.numel() * dtype_size(p.dtype()));
    bool fresh = buckets_.empty();
    if (!fresh) {
      const Bucket& last = buckets_.back();
      const double last_bytes = static_cast<double>(last.numel * dtype_size(last.dtype));
      fresh = last.dtype != p.dtype() || last.device != p.device() ||
              last_bytes + bytes > capacity_bytes;
    }
    if (fresh) {
      buckets_.emplace_back();
      buckets_.back().dtype = p.dtype();
      buckets_.back().device = p.device();
    }
    Bucket& bucket = buckets_.back();
    bucket_of_[i] = static_cast<int>(buckets_.size()) - 1;
    slot_of_[i] = static_cast<int>(bucket.parameters.size());
    bucket.parameters.push_back(i);
    bucket.offsets.push_back(bucket.numel);
    bucket.numel += p.numel();
  }
  reset_pass();
}

DataParallel::~DataParallel() {
  if (armed_) autograd::set_grad_ready_hook(std::move(previous_hook_));
}

std::vector<std::vector<int>> DataParallel::bucket_layout() const {
  std::vector<std::vector<int>> layout;
  for (const Bucket& bucket : buckets_) layout.push_back(bucket.parameters);
  return layout;
}

void DataParallel::broadcast_state() {
  NoGradGuard no_grad;
  for (auto& [name, tensor] : model_.named_parameters()) communicator_->broadcast(tensor, 0);
  for (auto& [name, tensor] : model_.named_buffers()) communicator_->broadcast(tensor, 0);
}

void DataParallel::reset_pass() {
  for (Bucket& bucket : buckets_) {
    bucket.pending = static_cast<int>(bucket.parameters.size());
    bucket.work.reset();
  }
  std::fill(copied_.begin(), copied_.end(), false);
  next_launch_ = 0;
}

void DataParallel::backward(const Tensor& loss) {
  const auto start = std::chrono::steady_clock::now();
  begin_backward();
  try {
    loss.backward();
  } catch (...) {
    // Leave the hook as it was; the step is lost anyway.
    autograd::set_grad_ready_hook(std::move(previous_hook_));
    armed_ = false;
    reset_pass();
    throw;
  }
  stats_.backward_seconds += seconds_since(start);
  finish_backward();
}

void DataParallel::begin_backward() {
  KITE_CHECK(!armed_, "DataParallel: begin_backward called twice without finish_backward");
  reset_pass();
  if (options_.overlap && communicator_->world_size() > 1) {
    previous_hook_ =
        autograd::set_grad_ready_hook([this](const Tensor& leaf) { on_grad_ready(leaf); });
    armed_ = true;
  }
}

void DataParallel::on_grad_ready(const Tensor& leaf) {
  auto it = index_of_.find(leaf.impl());
  if (it == index_of_.end()) {
    if (previous_hook_) previous_hook_(leaf);
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  const int i = it->second;
  KITE_CHECK(!copied_[i], "DataParallel: " << names_[i]
                                           << " received its gradient twice in one step; with "
                                              "overlap on, run one backward per step (or turn "
                                              "overlap off)");
  copy_into_bucket(i);
  launch_ready_buckets();
  // MPI makes progress on started reductions only inside MPI calls: poke them.
  for (size_t b = 0; b < next_launch_; ++b)
    if (buckets_[b].work) buckets_[b].work->test();
  stats_.hook_seconds += seconds_since(start);
}

void DataParallel::copy_into_bucket(int i) {
  NoGradGuard no_grad;
  Bucket& bucket = buckets_[bucket_of_[i]];
  if (!bucket.buffer.defined()) bucket.buffer = zeros({bucket.numel}, bucket.dtype, bucket.device);
  const Tensor& p = parameters_[i];
  Tensor slot =
      reshape(narrow(bucket.buffer, 0, bucket.offsets[slot_of_[i]], p.numel()), p.shape());
  const Tensor grad = p.grad();
  if (grad.defined())
    copy_(slot, grad);
  else
    fill_(slot, 0.0);  // unused on this rank: contributes nothing to the average
  copied_[i] = true;
  --bucket.pending;
}

void DataParallel::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    Bucket& bucket = buckets_[next_launch_];
    bucket.work = communicator_->all_reduce_async(bucket.buffer, ReduceOp::Average);
    (armed_ ? stats_.buckets_launched_during_backward : stats_.buckets_launched_after_backward)++;
    ++next_launch_;
  }
}

void DataParallel::finish_backward() {
  const auto start = std::chrono::steady_clock::now();
  if (armed_) {
    autograd::set_grad_ready_hook(std::move(previous_hook_));
    previous_hook_ = nullptr;
    armed_ = false;
  }
  ++stats_.steps;
  if (communicator_->world_size() == 1) {
    stats_.finish_seconds += seconds_since(start);
    return;  // the average over one rank is the gradient itself
  }
  for (size_t b = next_launch_; b < buckets_.size(); ++b) {
    for (int i : buckets_[b].parameters)
      if (!copied_[i]) copy_into_bucket(i);
    launch_ready_buckets();
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    Bucket& bucket = buckets_[b];
    bucket.work->wait();
    bucket.work.reset();
    for (size_t s = 0; s < bucket.parameters.size(); ++s) {
      Tensor& p = parameters_[bucket.parameters[s]];
      p.set_grad(reshape(narrow(bucket.buffer, 0, bucket.offsets[s], p.numel()), p.shape()));
    }
  }
  stats_.finish_seconds += seconds_since(start);
}

}  // namespace kite::nn
