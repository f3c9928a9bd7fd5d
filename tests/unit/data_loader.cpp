// The tensor loader: reproducible per-epoch order, disjoint rank shards, batching rules,
// mid-epoch resume, prefetching identical to synchronous loading, bad options.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "data/loader.h"
#include "ops/ops.h"

namespace kite::data {
namespace {

std::shared_ptr<const ImageSet> counting_set(int64_t n) {
  auto set = std::make_shared<ImageSet>();
  set->n = n;
  set->c = 1;
  set->h = 2;
  set->w = 3;
  set->pixels.resize(n * 6);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < 6; ++k)
      set->pixels[i * 6 + k] = static_cast<uint8_t>((i * 7 + k) % 256);
    set->labels.push_back(i % 10);
  }
  return set;
}

std::vector<int64_t> all_indices(DataLoader& loader, int64_t epoch, int64_t skip = 0) {
  loader.start_epoch(epoch, skip);
  std::vector<int64_t> seen;
  while (auto batch = loader.next())
    seen.insert(seen.end(), batch->indices.begin(), batch->indices.end());
  return seen;
}

TEST(DataLoader, EpochOrderIsAReproduciblePermutation) {
  auto set = counting_set(103);
  DataLoader a(set, {.batch_size = 10, .seed = 4});
  DataLoader b(set, {.batch_size = 10, .seed = 4});
  std::vector<int64_t> e0 = all_indices(a, 0), e1 = all_indices(a, 1);
  EXPECT_EQ(e0, all_indices(b, 0));
  EXPECT_NE(e0, e1);
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 103; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_EQ(a.batches_per_epoch(), 11);
}

TEST(DataLoader, ValuesAndLabelsMatchTheSet) {
  auto set = counting_set(5);
  DataLoader loader(set, {.batch_size = 5, .shuffle = false, .prefetch = 0});
  loader.start_epoch(0);
  Batch batch = *loader.next();
  ASSERT_EQ(batch.images.shape(), (Shape{5, 1, 2, 3}));
  std::vector<double> v = to_double_vector(batch.images);
  for (int64_t i = 0; i < 5 * 6; ++i) EXPECT_FLOAT_EQ(v[i], set->pixels[i] / 255.0f);
  EXPECT_EQ(to_int64_vector(batch.labels), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(DataLoader, RankShardsAreDisjointAndCoverEqualCounts) {
  auto set = counting_set(100);
  std::set<int64_t> seen;
  for (int rank = 0; rank < 3; ++rank) {
    DataLoader loader(set, {.batch_size = 8, .seed = 1, .rank = rank, .world_size = 3});
    std::vector<int64_t> mine = all_indices(loader, 2);
    EXPECT_EQ(mine.size(), 33u);
    for (int64_t i : mine) EXPECT_TRUE(seen.insert(i).second) << "index " << i << " on two ranks";
  }
}

TEST(DataLoader, DropLastAndResumeMidEpoch) {
  auto set = counting_set(50);
  DataLoader loader(set, {.batch_size = 16, .drop_last = true, .seed = 9});
  EXPECT_EQ(loader.batches_per_epoch(), 3);
  std::vector<int64_t> full = all_indices(loader, 5);
  EXPECT_EQ(full.size(), 48u);
  std::vector<int64_t> resumed = all_indices(loader, 5, 2);
  EXPECT_EQ(resumed, std::vector<int64_t>(full.begin() + 32, full.end()));
}

TEST(DataLoader, PrefetchingGivesTheSameBatchesAsSynchronous) {
  auto set = counting_set(64);
  DataLoader sync(set, {.batch_size = 7, .seed = 3, .prefetch = 0, .horizontal_flip = true});
  DataLoader async(set, {.batch_size = 7, .seed = 3, .prefetch = 3, .horizontal_flip = true});
  sync.start_epoch(1);
  async.start_epoch(1);
  while (auto a = sync.next()) {
    auto b = async.next();
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(a->indices, b->indices);
    EXPECT_EQ(to_double_vector(a->images), to_double_vector(b->images));
  }
  EXPECT_FALSE(async.next().has_value());
}

TEST(DataLoader, RandomErasingKeepsCleanTargetsAndIsReproducible) {
  auto set = std::make_shared<ImageSet>();
  set->n = 40;
  set->c = 1;
  set->h = set->w = 16;
  set->pixels.assign(40 * 256, 200);
  LoaderOptions options{.batch_size = 8, .seed = 5, .prefetch = 0, .random_erasing = true};
  options.erasing.probability = 1.0;
  options.erasing.value = 0.0;
  DataLoader first(set, options), second(set, options);
  first.start_epoch(2);
  second.start_epoch(2);
  int64_t erased_images = 0;
  while (auto a = first.next()) {
    auto b = second.next();
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(to_double_vector(a->images), to_double_vector(b->images));
    const auto clean = to_double_vector(a->targets);
    const auto erased = to_double_vector(a->images);
    for (double v : clean) EXPECT_NEAR(v, 200.0 / 255.0, 1e-6);
    for (int64_t i = 0; i < 8; ++i) {
      int64_t zeros = 0;
      for (int64_t k = 0; k < 256; ++k) {
        const double v = erased[i * 256 + k];
        EXPECT_TRUE(v == 0.0 || std::abs(v - 200.0 / 255.0) < 1e-6);
        zeros += v == 0.0;
      }
      // Areas between 2% and 33% of 256 pixels (rounding to whole rows/columns).
      if (zeros > 0) ++erased_images;
      EXPECT_LE(zeros, 256 * 0.4);
    }
  }
  EXPECT_GE(erased_images, 30);  // probability 1: nearly every image gets a rectangle
  // Off: targets and images are the same tensor.
  DataLoader plain(set, {.batch_size = 8, .prefetch = 0});
  auto batch = plain.next();
  EXPECT_EQ(batch->images.data_ptr<float>(), batch->targets.data_ptr<float>());
}

TEST(DataLoader, BadOptionsAreErrors) {
  auto set = counting_set(10);
  EXPECT_THROW(DataLoader(set, {.batch_size = 0}), Error);
  EXPECT_THROW(DataLoader(set, {.rank = 2, .world_size = 2}), Error);
  EXPECT_THROW(DataLoader(set, {.batch_size = 20, .drop_last = true}), Error);
  EXPECT_THROW(DataLoader(std::make_shared<ImageSet>(), {}), Error);
  EXPECT_THROW(DataLoader(set, {.world_size = 11}), Error);
}

}  // namespace
}  // namespace kite::data
