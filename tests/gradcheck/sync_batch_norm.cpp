// Gradient checks of the synchronised batch norm (models/nn/sync_batchnorm.h), which lives
// outside ops/ and so outside the op table: first and second order in float64 on one rank,
// where the all-reduces are the identity and the op must equal ops' batch_norm exactly. The
// multi-rank equivalence (N ranks = one rank at the global batch) is tests/mpi's job.
#include <gtest/gtest.h>

#include "engine/communicator.h"
#include "models/nn/sync_batchnorm.h"
#include "ops/cases/check.h"
#include "ops/norm.h"
#include "ops/ops.h"

namespace kite {
namespace {

std::shared_ptr<Communicator> one_rank() { return std::make_shared<SingleProcessCommunicator>(); }

void expect_gradchecks(const OpCase& op_case) {
  for (bool noncontiguous : {false, true}) {
    const OpCaseCheck check = check_op_case(op_case, noncontiguous);
    EXPECT_TRUE(check.first_order.ok) << op_case.name << ": " << check.first_order.message;
    EXPECT_TRUE(check.ran_second_order) << op_case.name;
    EXPECT_TRUE(check.second_order.ok) << op_case.name << ": " << check.second_order.message;
  }
}

TEST(SyncBatchNormGradcheck, AllReduceSum) {
  expect_gradchecks(
      {"all_reduce_sum",
       "all_reduce_sum/one_rank",
       {{{3, 4}}},
       [](const std::vector<Tensor>& x) { return nn::all_reduce_sum(x[0], one_rank()); },
       true});
}

TEST(SyncBatchNormGradcheck, AffineAndPlain) {
  expect_gradchecks({"sync_batch_norm",
                     "sync_batch_norm/affine",
                     {{{4, 3, 2, 2}}, {{3}}, {{3}}},
                     [](const std::vector<Tensor>& x) {
                       return nn::sync_batch_norm(x[0], x[1], x[2], {}, {}, 0.1, 1e-5, one_rank());
                     },
                     true});
  expect_gradchecks({"sync_batch_norm",
                     "sync_batch_norm/no_affine",
                     {{{3, 2, 3, 2}}},
                     [](const std::vector<Tensor>& x) {
                       return nn::sync_batch_norm(x[0], {}, {}, {}, {}, 0.1, 1e-5, one_rank());
                     },
                     true});
}

TEST(SyncBatchNormGradcheck, OneRankEqualsBatchNormWithRunningStatistics) {
  const OpCase shapes{"", "", {{{4, 3, 2, 5}}, {{3}}, {{3}}}, nullptr};
  const std::vector<Tensor> x = make_case_inputs(shapes, 11);
  const Tensor mean_sync = zeros({3}, DType::Float64), var_sync = ones({3}, DType::Float64);
  const Tensor mean_ref = zeros({3}, DType::Float64), var_ref = ones({3}, DType::Float64);
  const Tensor y_sync =
      nn::sync_batch_norm(x[0], x[1], x[2], mean_sync, var_sync, 0.2, 1e-3, one_rank());
  const Tensor y_ref = batch_norm(x[0], x[1], x[2], mean_ref, var_ref, true, 0.2, 1e-3);
  const std::vector<double> a = to_double_vector(y_sync), b = to_double_vector(y_ref);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-12) << i;
  for (auto [s, r] : {std::pair{mean_sync, mean_ref}, std::pair{var_sync, var_ref}}) {
    const std::vector<double> sv = to_double_vector(s), rv = to_double_vector(r);
    for (size_t i = 0; i < sv.size(); ++i) EXPECT_NEAR(sv[i], rv[i], 1e-12) << i;
  }
  EXPECT_NE(to_double_vector(var_sync)[0], 1.0);  // the running statistics were updated
}

}  // namespace
}  // namespace kite
