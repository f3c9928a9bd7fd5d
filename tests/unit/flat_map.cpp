// FlatMap (engine/flat_map.h), the allocators' hash table: checked operation by operation
// against std::unordered_map doing the same, with keys shaped like the allocators' (aligned
// block addresses, size classes), across growth and through erasures that shift entries back.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/error.h"
#include "engine/flat_map.h"

namespace kite {
namespace {

template <class Key, class Value>
void expect_same(FlatMap<Key, Value>& map, const std::unordered_map<Key, Value>& reference) {
  ASSERT_EQ(map.size(), reference.size());
  EXPECT_EQ(map.empty(), reference.empty());
  for (const auto& [key, value] : reference) {
    const Value* found = map.find(key);
    ASSERT_NE(found, nullptr) << "key " << key;
    EXPECT_EQ(*found, value);
  }
  size_t visited = 0;
  map.for_each([&](Key key, const Value& value) {
    ++visited;
    ASSERT_EQ(reference.count(key), 1u) << "for_each visited key " << key << " that is not there";
    EXPECT_EQ(reference.at(key), value);
  });
  EXPECT_EQ(visited, reference.size());
}

TEST(FlatMap, StartsEmptyAndFindsNothing) {
  FlatMap<void*, int> map;
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.find(reinterpret_cast<void*>(0x1000)), nullptr);
  EXPECT_FALSE(map.take(reinterpret_cast<void*>(0x1000)).has_value());
}

TEST(FlatMap, MatchesUnorderedMapOnRandomOperationsWithBlockAddresses) {
  // Addresses 512-byte aligned in a few regions, as cudaMalloc hands them out: a hash of the
  // low bits alone would put them all in one slot.
  std::mt19937_64 rng(3);
  std::vector<void*> keys;
  for (uintptr_t region : {0x7f0000000000ull, 0x7f4000000000ull, 0x10000ull})
    for (uintptr_t i = 0; i < 300; ++i) keys.push_back(reinterpret_cast<void*>(region + i * 512));
  FlatMap<void*, int> map;
  std::unordered_map<void*, int> reference;
  for (int step = 0; step < 20000; ++step) {
    void* key = keys[rng() % keys.size()];
    switch (rng() % 3) {
      case 0: {  // insert or overwrite
        const int value = static_cast<int>(rng() % 1000);
        map[key] = value;
        reference[key] = value;
        break;
      }
      case 1: {  // take
        const std::optional<int> taken = map.take(key);
        const auto it = reference.find(key);
        ASSERT_EQ(taken.has_value(), it != reference.end()) << "step " << step;
        if (taken) {
          EXPECT_EQ(*taken, it->second);
          reference.erase(it);
        }
        break;
      }
      default: {  // find
        const int* found = map.find(key);
        const auto it = reference.find(key);
        ASSERT_EQ(found != nullptr, it != reference.end()) << "step " << step;
        if (found) {
          EXPECT_EQ(*found, it->second);
        }
      }
    }
    if (step % 1000 == 0) expect_same(map, reference);
  }
  expect_same(map, reference);
}

TEST(FlatMap, GrowsPastManyEntriesAndEmptiesAgain) {
  FlatMap<size_t, std::vector<int>> map;  // the CPU allocator's size class -> free blocks
  std::unordered_map<size_t, std::vector<int>> reference;
  for (size_t size = 64; size <= 64 * 5000; size += 64) {
    map[size].push_back(static_cast<int>(size));
    reference[size].push_back(static_cast<int>(size));
  }
  expect_same(map, reference);
  // Erase in an order unrelated to the slots, so that runs shift back across the table's end.
  std::vector<size_t> order;
  for (const auto& [size, values] : reference) order.push_back(size);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(5));
  for (size_t i = 0; i < order.size(); ++i) {
    ASSERT_TRUE(map.take(order[i]).has_value());
    reference.erase(order[i]);
    if (i % 500 == 0) expect_same(map, reference);
  }
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.find(64), nullptr);
}

TEST(FlatMap, RefusesTheEmptyKey) {
  FlatMap<void*, int> map;
  EXPECT_THROW(map[nullptr] = 1, Error);
  map[reinterpret_cast<void*>(0x200)] = 1;  // the empty key must not find an empty slot
  EXPECT_EQ(map.find(nullptr), nullptr);
  EXPECT_FALSE(map.take(nullptr).has_value());
  EXPECT_EQ(map.size(), 1u);
  FlatMap<size_t, int> sizes;
  EXPECT_THROW(sizes[0] = 1, Error);
}

}  // namespace
}  // namespace kite
