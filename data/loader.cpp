// The tensor loader (see loader.h).
#include "data/loader.h"

#include <omp.h>

#include <numeric>

#include "engine/backend.h"
#include "engine/cpu_allocator.h"
#include "engine/generator.h"
#include "ops/factory.h"

namespace kite::data {
namespace {

// Fisher-Yates driven by a Philox stream named by (seed, epoch).
std::vector<int64_t> shuffled(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  if (n < 2) return order;
  Generator generator;
  generator.set_state({seed, static_cast<uint64_t>(epoch) << 40});
  std::vector<double> u(n);
  generator.fill_uniform(u.data(), n);
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = std::min<int64_t>(i, static_cast<int64_t>((1.0 - u[i]) * (i + 1)));
    std::swap(order[i], order[j]);
  }
  return order;
}

template <class T>
void convert(const ImageSet& set, const std::vector<int64_t>& indices,
             const std::vector<uint8_t>& flips, T* out) {
  const int64_t c = set.c, h = set.h, w = set.w, size = set.image_bytes();
  const T scale = T(1) / T(255);
  for (size_t b = 0; b < indices.size(); ++b) {
    const uint8_t* src = set.image(indices[b]);
    T* dst = out + b * size;
    if (flips.empty() || !flips[b]) {
      for (int64_t i = 0; i < size; ++i) dst[i] = src[i] * scale;
    } else {
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t y = 0; y < h; ++y)
          for (int64_t x = 0; x < w; ++x)
            dst[(ch * h + y) * w + x] = src[(ch * h + y) * w + (w - 1 - x)] * scale;
    }
  }
}

}  // namespace

DataLoader::DataLoader(std::shared_ptr<const ImageSet> set, LoaderOptions options)
    : set_(std::move(set)), options_(options) {
  KITE_CHECK(set_ && set_->n > 0, "DataLoader: the image set is empty");
  KITE_CHECK(options_.batch_size > 0,
             "DataLoader: batch size must be positive, got " << options_.batch_size);
  KITE_CHECK(options_.world_size >= 1 && options_.rank >= 0 && options_.rank < options_.world_size,
             "DataLoader: bad rank " << options_.rank << " for world size " << options_.world_size);
  KITE_CHECK(samples_per_rank() > 0, "DataLoader: " << set_->n << " images are too few for "
                                                    << options_.world_size << " ranks");
  KITE_CHECK(!options_.drop_last || samples_per_rank() >= options_.batch_size,
             "DataLoader: batch size " << options_.batch_size << " is larger than the "
                                       << samples_per_rank()
                                       << " images each rank gets, and drop_last is set");
}

DataLoader::~DataLoader() { stop_worker(); }

int64_t DataLoader::samples_per_rank() const {
  // Every rank gets the same count (the tail that does not divide evenly is dropped), so
  // all ranks run the same number of steps.
  return set_->n / options_.world_size;
}

int64_t DataLoader::batches_per_epoch() const {
  const int64_t n = samples_per_rank(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> all(set_->n);
  if (options_.shuffle)
    all = shuffled(set_->n, options_.seed, epoch);
  else
    std::iota(all.begin(), all.end(), 0);
  std::vector<int64_t> mine;
  mine.reserve(samples_per_rank());
  for (int64_t i = options_.rank; i < samples_per_rank() * options_.world_size;
       i += options_.world_size)
    mine.push_back(all[i]);
  return mine;
}

Batch DataLoader::make_batch(const std::vector<int64_t>& indices, int64_t epoch,
                             int64_t batch_index) const {
  const int64_t b = static_cast<int64_t>(indices.size());
  // Host tensors bound for a GPU are page-locked, so their copies are direct DMA transfers.
  PinnedHostScope pinned(options_.device.is_cuda());
  Batch batch;
  batch.indices = indices;
  std::vector<uint8_t> flips;
  if (options_.horizontal_flip) {
    Generator generator;
    generator.set_state({options_.seed ^ 0x9e3779b97f4a7c15ull,
                         (static_cast<uint64_t>(epoch) << 40) +
                             static_cast<uint64_t>(batch_index) * 4096 * 4 +
                             static_cast<uint64_t>(options_.rank) * (1ull << 36)});
    std::vector<float> u(b);
    generator.fill_uniform(u.data(), b);
    flips.resize(b);
    for (int64_t i = 0; i < b; ++i) flips[i] = u[i] <= 0.5f;
  }
  Tensor images = Tensor::empty({b, set_->c, set_->h, set_->w}, options_.dtype);
  visit_floating(options_.dtype, "DataLoader", [&](auto tag) {
    using T = decltype(tag);
    convert(*set_, indices, flips, images.data_ptr<T>());
  });
  batch.targets = to_device(images, options_.device);
  batch.images = batch.targets;
  if (options_.random_erasing) {
    // A stream of its own (key differs from the flips'), so turning flips on or off does not
    // move the rectangles. Erased on the host, before the copy to the device.
    Generator generator;
    generator.set_state({options_.seed ^ 0xd1b54a32d192ed03ull,
                         (static_cast<uint64_t>(epoch) << 40) +
                             static_cast<uint64_t>(batch_index) * 4096 * 64 +
                             static_cast<uint64_t>(options_.rank) * (1ull << 36)});
    const auto boxes = sample_erase_boxes(b, set_->h, set_->w, options_.erasing, generator);
    batch.images = to_device(erase_boxes(images, boxes, options_.erasing.value), options_.device);
  }
  if (!set_->labels.empty()) {
    Tensor labels = Tensor::empty({b}, DType::Int64);
    for (int64_t i = 0; i < b; ++i) labels.data_ptr<int64_t>()[i] = set_->labels[indices[i]];
    batch.labels = to_device(labels, options_.device);
  }
  if (!set_->factors.empty()) {
    const int64_t f = static_cast<int64_t>(set_->factor_names.size());
    Tensor factors = Tensor::empty({b, f}, DType::Int64);
    for (int64_t i = 0; i < b; ++i)
      for (int64_t k = 0; k < f; ++k)
        factors.data_ptr<int64_t>()[i * f + k] = set_->factors[indices[i] * f + k];
    batch.factors = factors;
  }
  return batch;
}

void DataLoader::start_epoch(int64_t epoch, int64_t skip_batches) {
  stop_worker();
  epoch_ = epoch;
  order_ = epoch_order(epoch);
  next_batch_ = std::min(skip_batches, batches_per_epoch());
  produced_ = consumed_ = next_batch_;
  ready_.clear();
  stop_ = false;
  worker_error_ = nullptr;
  if (options_.prefetch > 0) worker_ = std::thread([this] { worker_loop(); });
}

void DataLoader::worker_loop() {
  // The ops this thread calls (erasing, copies) would otherwise start an OpenMP team of their
  // own next to the training thread's, and the two teams' spin-waits starve each other: a
  // batch is small work, one thread does it in time.
  omp_set_num_threads(1);
  try {
    // A new thread's CUDA device is 0: its pinned allocations would open a context on GPU 0
    // (on every rank of a multi-GPU job) instead of using this rank's GPU.
    if (options_.device.is_cuda())
      backend_for(options_.device.type).set_thread_device(options_.device.index);
    while (true) {
      int64_t index;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || produced_ - consumed_ < options_.prefetch; });
        if (stop_ || produced_ >= batches_per_epoch()) return;
        index = produced_;
      }
      const int64_t begin = index * options_.batch_size;
      const int64_t end =
          std::min<int64_t>(begin + options_.batch_size, static_cast<int64_t>(order_.size()));
      Batch batch = make_batch(std::vector<int64_t>(order_.begin() + begin, order_.begin() + end),
                               epoch_, index);
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.push_back(std::move(batch));
      ++produced_;
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    worker_error_ = std::current_exception();
    cv_.notify_all();
  }
}

std::optional<Batch> DataLoader::next() {
  if (order_.empty()) start_epoch(epoch_);
  if (options_.prefetch <= 0) {
    if (next_batch_ >= batches_per_epoch()) return std::nullopt;
    const int64_t begin = next_batch_ * options_.batch_size;
    const int64_t end =
        std::min<int64_t>(begin + options_.batch_size, static_cast<int64_t>(order_.size()));
    return make_batch(std::vector<int64_t>(order_.begin() + begin, order_.begin() + end), epoch_,
                      next_batch_++);
  }
  std::unique_lock<std::mutex> lock(mutex_);
  if (consumed_ >= batches_per_epoch()) return std::nullopt;
  cv_.wait(lock, [&] { return !ready_.empty() || worker_error_; });
  if (worker_error_) std::rethrow_exception(worker_error_);
  Batch batch = std::move(ready_.front());
  ready_.pop_front();
  ++consumed_;
  cv_.notify_all();
  return batch;
}

void DataLoader::stop_worker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    cv_.notify_all();
  }
  if (worker_.joinable()) worker_.join();
}

Tensor images_to_tensor(const ImageSet& set, int64_t first, int64_t count, DType dtype) {
  KITE_CHECK(first >= 0 && count >= 0 && first + count <= set.n,
             "images_to_tensor: window [" << first << ", " << first + count << ") outside a set of "
                                          << set.n);
  std::vector<int64_t> indices(count);
  for (int64_t i = 0; i < count; ++i) indices[i] = first + i;
  Tensor images = Tensor::empty({count, set.c, set.h, set.w}, dtype);
  visit_floating(dtype, "images_to_tensor", [&](auto tag) {
    using T = decltype(tag);
    convert(set, indices, {}, images.data_ptr<T>());
  });
  return images;
}

}  // namespace kite::data
