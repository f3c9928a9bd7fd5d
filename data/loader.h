// The tensor loader: batches of float images in [0, 1] (NCHW) with labels, from an
// ImageSet in memory.
//
// - Shuffles once per epoch with a Philox stream named by (seed, epoch), so an epoch's order
//   is reproducible and independent of thread count, and a resumed run sees the same order.
// - Shards every epoch's order by (rank, world_size) for data-parallel runs: rank r takes
//   positions r, r + world, r + 2 world, ... of the shuffled order, so ranks are disjoint.
// - Optional augmentations, drawn from Philox streams named by (seed, epoch, batch, rank):
//   horizontal flips and random erasing (which keeps the clean images as targets).
// - Host batches bound for a CUDA device are built in pinned (page-locked) memory
//   (engine/cpu_allocator.h), so the copies to the GPU are direct DMA transfers.
// - A background thread prepares the next batches (conversion, augmentation) while the
//   caller trains on the current one.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "data/image_set.h"
#include "engine/tensor.h"
#include "ops/erase.h"

namespace kite::data {

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  bool drop_last = false;
  uint64_t seed = 0;
  int rank = 0;
  int world_size = 1;
  int prefetch = 2;  // batches prepared ahead by the background thread (0 = none, synchronous)
  DType dtype = DType::Float32;
  Device device = Device::cpu();
  bool horizontal_flip = false;  // random left-right flips, p = 0.5
  // Random erasing (the paper's denoising input): `images` are erased, `targets` stay clean.
  bool random_erasing = false;
  RandomErasingOptions erasing{};
};

struct Batch {
  Tensor images;                 // [B, C, H, W] floats in [0, 1]
  Tensor targets;                // the clean images with random erasing, else `images` itself
  Tensor labels;                 // int64 [B], undefined when the set has none
  Tensor factors;                // int64 [B, F], undefined when the set has none
  std::vector<int64_t> indices;  // positions in the ImageSet
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const ImageSet> set, LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts (or restarts) an epoch: computes its order and, optionally, skips the first
  // `skip_batches` batches (for resuming mid-epoch).
  void start_epoch(int64_t epoch, int64_t skip_batches = 0);
  // The next batch of the current epoch, or nullopt at its end.
  std::optional<Batch> next();

  int64_t batches_per_epoch() const;
  int64_t samples_per_rank() const;
  const ImageSet& set() const { return *set_; }

  // The order of an epoch for this rank (exposed for tests).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

 private:
  Batch make_batch(const std::vector<int64_t>& indices, int64_t epoch, int64_t batch_index) const;
  void stop_worker();
  void worker_loop();

  std::shared_ptr<const ImageSet> set_;
  LoaderOptions options_;
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;
  int64_t next_batch_ = 0;  // next batch index handed to the worker (or made synchronously)

  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Batch> ready_;
  int64_t produced_ = 0, consumed_ = 0;
  bool stop_ = false;
  std::exception_ptr worker_error_;
};

// Converts a window of an ImageSet to a float tensor in [0, 1] (no loader).
Tensor images_to_tensor(const ImageSet& set, int64_t first, int64_t count,
                        DType dtype = DType::Float32);

}  // namespace kite::data
