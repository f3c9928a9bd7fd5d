// Heap allocations per op call, counted by replacing the global operator new in this test
// binary (apps/common/heap_counter.h). An op's host time matters wherever its kernel is short
// (small tensors, and every op on a GPU, where the host only issues a launch), and heap
// allocations were most of it: each shape and stride vector, each op's output view, each map
// entry of the caching allocator.
// The counts below are what the engine makes today; a change that adds allocations to these
// paths fails here and has to say why.
#include <gtest/gtest.h>

#include "apps/common/heap_counter.h"
#include "engine/autograd.h"
#include "engine/tensor.h"
#include "ops/ops.h"

namespace kite {
namespace {

// Heap allocations per call of `op` in steady state (after warm-up calls have filled the
// allocator's caches and pools).
template <class Op>
double allocations_per_call(Op&& op) {
  for (int i = 0; i < 10; ++i) op();
  const long before = apps::heap_allocations();
  constexpr int kCalls = 100;
  for (int i = 0; i < kCalls; ++i) op();
  return double(apps::heap_allocations() - before) / kCalls;
}

class OpAllocations : public ::testing::Test {
 protected:
  Tensor a = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::from_vector<float>({5, 6, 7, 8}, {2, 2});
  Tensor bias = Tensor::from_vector<float>({1, -1}, {2});
  Tensor out;
};

// A tensor is two allocations: its TensorImpl and its Storage. Shape and strides live inside
// the TensorImpl, and the allocator's bookkeeping (engine/flat_map.h) has no node per block.
TEST_F(OpAllocations, EmptyTensorIsTwoAllocations) {
  EXPECT_EQ(allocations_per_call([&] { out = Tensor::empty({2, 3, 4}); }), 2);
  EXPECT_EQ(allocations_per_call([&] { out = Tensor::empty({1, 2, 3, 4, 5, 6}); }), 2);
  // Past six axes shapes and strides move to the heap.
  EXPECT_GT(allocations_per_call([&] { out = Tensor::empty({1, 1, 1, 1, 1, 1, 2}); }), 2);
}

TEST_F(OpAllocations, ProductsMakeOnlyTheirOutput) {
  EXPECT_EQ(allocations_per_call([&] { out = matmul(a, b); }), 2);
  EXPECT_EQ(allocations_per_call([&] { out = add(a, b); }), 2);
  EXPECT_EQ(allocations_per_call([&] { out = mul(a, b); }), 2);
  EXPECT_LE(allocations_per_call([&] { out = linear(a, b, bias); }), 3);  // + W^T's view
}

TEST_F(OpAllocations, ViewsAreOneAllocation) {
  EXPECT_EQ(allocations_per_call([&] { out = transpose(a, 0, 1); }), 1);
  EXPECT_EQ(allocations_per_call([&] { out = permute(a, {1, 0}); }), 1);
  EXPECT_EQ(allocations_per_call([&] { out = reshape(a, {4}); }), 1);
  EXPECT_EQ(allocations_per_call([&] { out = unsqueeze(a, 0); }), 1);
}

// Recording is where allocations belong (the node, its edges, the formula's captures): the
// forward alone stays at its output.
TEST_F(OpAllocations, RecordingAddsTheNodeOnly) {
  Tensor w = b.detach();
  w.set_requires_grad(true);
  const double recorded = allocations_per_call([&] { out = matmul(a, w); });
  EXPECT_GT(recorded, 2);
  {
    NoGradGuard no_grad;
    EXPECT_EQ(allocations_per_call([&] { out = matmul(a, w); }), 2);
  }
}

}  // namespace
}  // namespace kite
