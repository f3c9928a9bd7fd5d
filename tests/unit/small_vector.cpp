// SmallVector (engine/small_vector.h), the type of shapes and strides: it behaves as
// std::vector<T> does for every operation the engine uses, inside its inline capacity and past
// it, checked operation by operation against a std::vector doing the same.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "engine/small_vector.h"

namespace kite {
namespace {

using Small = SmallVector<int64_t, 4>;

void expect_same(const Small& small, const std::vector<int64_t>& reference) {
  ASSERT_EQ(small.size(), reference.size());
  EXPECT_EQ(small.empty(), reference.empty());
  EXPECT_GE(small.capacity(), small.size());
  for (size_t i = 0; i < reference.size(); ++i) EXPECT_EQ(small[i], reference[i]) << "at " << i;
  EXPECT_EQ(std::vector<int64_t>(small), reference);
}

TEST(SmallVector, ConstructsLikeAVector) {
  expect_same(Small{}, {});
  expect_same(Small{3, 1, 4}, {3, 1, 4});
  expect_same(Small(6, 7), std::vector<int64_t>(6, 7));  // past the inline capacity
  const std::vector<int64_t> values{1, 2, 3, 4, 5, 6, 7};
  expect_same(Small(values.begin() + 1, values.end()), {2, 3, 4, 5, 6, 7});
  expect_same(Small(values), values);
}

TEST(SmallVector, CopiesAndMovesInlineAndHeapContents) {
  for (const std::vector<int64_t>& values :
       {std::vector<int64_t>{1, 2}, std::vector<int64_t>{1, 2, 3, 4, 5, 6}}) {
    Small original(values);
    Small copy = original;
    copy[0] = 99;  // the copy owns its elements
    expect_same(original, values);
    Small moved = std::move(original);
    expect_same(moved, values);
    EXPECT_TRUE(original.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
    original = moved;               // reusable after the move
    expect_same(original, values);
    Small assigned{5};
    assigned = std::move(moved);
    expect_same(assigned, values);
    assigned = assigned;  // self-assignment keeps the elements
    expect_same(assigned, values);
  }
}

TEST(SmallVector, InsertAndEraseIncludingItsOwnElements) {
  Small v{1, 2, 3};
  std::vector<int64_t> r{1, 2, 3};
  v.insert(v.begin(), 0);
  r.insert(r.begin(), 0);
  expect_same(v, r);
  v.insert(v.begin() + 2, v.begin(), v.end());  // a range of itself, crossing to the heap
  r = {0, 1, 0, 1, 2, 3, 2, 3};
  expect_same(v, r);
  v.erase(v.begin() + 1, v.begin() + 4);
  r.erase(r.begin() + 1, r.begin() + 4);
  expect_same(v, r);
  v.erase(v.end() - 1);
  r.erase(r.end() - 1);
  expect_same(v, r);
  v.push_back(v[0]);  // an element of itself, at full capacity or not
  r.push_back(r[0]);
  expect_same(v, r);
}

TEST(SmallVector, RandomOperationsMatchStdVector) {
  std::mt19937 rng(5);
  Small v;
  std::vector<int64_t> r;
  for (int step = 0; step < 4000; ++step) {
    const int64_t value = static_cast<int64_t>(rng() % 100);
    switch (rng() % 7) {
      case 0:
      case 1:
        v.push_back(value);
        r.push_back(value);
        break;
      case 2:
        if (!r.empty()) {
          v.pop_back();
          r.pop_back();
        }
        break;
      case 3: {
        const size_t at = rng() % (r.size() + 1);
        v.insert(v.begin() + at, value);
        r.insert(r.begin() + static_cast<int64_t>(at), value);
        break;
      }
      case 4:
        if (!r.empty()) {
          const size_t at = rng() % r.size();
          v.erase(v.begin() + at);
          r.erase(r.begin() + static_cast<int64_t>(at));
        }
        break;
      case 5: {
        const size_t n = rng() % 10;
        v.resize(n, value);
        r.resize(n, value);
        break;
      }
      case 6:
        if (rng() % 8 == 0) {
          v.clear();
          r.clear();
        }
        break;
    }
    expect_same(v, r);
    if (HasFailure()) return;
  }
}

TEST(SmallVector, ComparesByElements) {
  EXPECT_EQ((Small{1, 2}), (Small{1, 2}));
  EXPECT_NE((Small{1, 2}), (Small{1, 2, 3}));
  EXPECT_NE((Small{1, 2}), (Small{2, 1}));
  EXPECT_EQ((Small{1, 2, 3, 4, 5}), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_LT((Small{1, 2}), (Small{1, 3}));
  EXPECT_LT((Small{1, 2}), (Small{1, 2, 0}));
}

}  // namespace
}  // namespace kite
