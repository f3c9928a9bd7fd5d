// DataParallel: data-parallel training of one model replica per rank (like PyTorch's DDP).
//
// Every rank holds the same parameters (broadcast from rank 0 at start and after a resume),
// trains on its own shard of each batch, and before the optimizer step the gradients are
// averaged over the ranks, so every rank takes the same step.
//
// Gradients travel in buckets of about `bucket_mb` megabytes, filled in reverse parameter
// order (roughly the order backward finishes them). With overlap on, the autograd engine's
// grad-ready hook copies each finished gradient into its bucket, and a full bucket's
// all-reduce starts while backward is still computing the earlier layers. Buckets are
// launched strictly in bucket order, so every rank issues the same collectives in the same
// sequence even when its backward finishes gradients in another order. Overlap off copies and
// reduces everything after backward (simpler to debug; same result, bit for bit).
//
//   nn::DataParallel parallel(*model, communicator);   // after model->to(device)
//   parallel.broadcast_state();                        // rank 0's weights everywhere
//   ... loss = ...; optimizer.zero_grad(); parallel.backward(loss); optimizer.step();
//
// After backward, each parameter's .grad is a view into its bucket (no copy back); a
// parameter that received no gradient on this rank counts as zero. One backward per step
// with overlap on (a second one would find its gradients already sent: an error says so).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/autograd.h"
#include "engine/communicator.h"
#include "models/nn/module.h"

namespace kite::nn {

struct DataParallelOptions {
  double bucket_mb = 25.0;  // bucket capacity in MB (1e6 bytes); 0: one parameter per bucket
  bool overlap = true;      // start all-reduces during backward (false: after it)
};

// Where the time of the gradient synchronisation went, summed over steps (seconds).
struct DataParallelStats {
  int64_t steps = 0;
  double backward_seconds = 0;  // inside backward(), including the hooks' copies and launches
  double hook_seconds = 0;      // inside the grad-ready hooks (copies into buckets, launches)
  double finish_seconds = 0;    // after backward: remaining copies, waiting for the reductions
  int64_t buckets_launched_during_backward = 0;
  int64_t buckets_launched_after_backward = 0;
};

class DataParallel {
 public:
  DataParallel(const Module& model, std::shared_ptr<Communicator> communicator,
               DataParallelOptions options = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // Copies rank 0's parameters and buffers into every rank's model.
  void broadcast_state();

  // loss.backward(), then the gradients averaged over the ranks. Equivalent to
  // begin_backward(); loss.backward(); finish_backward().
  void backward(const Tensor& loss);
  // The two halves, for callers that run backward themselves.
  void begin_backward();
  void finish_backward();

  Communicator& communicator() const { return *communicator_; }
  const DataParallelOptions& options() const { return options_; }
  const DataParallelStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }
  // The parameter indices (in Module::parameters() order) of each bucket, in launch order.
  std::vector<std::vector<int>> bucket_layout() const;

 private:
  struct Bucket {
    std::vector<int> parameters;  // indices into parameters_
    std::vector<int64_t> offsets;
    int64_t numel = 0;
    DType dtype = DType::Float32;
    Device device;
    Tensor buffer;  // flat, allocated on first use and reused
    int pending = 0;
    std::unique_ptr<CommWork> work;
  };

  void on_grad_ready(const Tensor& leaf);
  void copy_into_bucket(int parameter);
  void launch_ready_buckets();
  void reset_pass();

  const Module& model_;
  std::shared_ptr<Communicator> communicator_;
  DataParallelOptions options_;
  std::vector<Tensor> parameters_;
  std::vector<std::string> names_;
  std::unordered_map<const TensorImpl*, int> index_of_;
  std::vector<int> bucket_of_, slot_of_;
  std::vector<bool> copied_;
  std::vector<Bucket> buckets_;
  size_t next_launch_ = 0;
  bool armed_ = false;
  autograd::GradReadyHook previous_hook_;
  DataParallelStats stats_;
};

}  // namespace kite::nn
