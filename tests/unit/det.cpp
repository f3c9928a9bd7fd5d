// logabsdet and inverse: values on known matrices, batches, pivoting, singular input.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/det.h"
#include "ops/ops.h"

namespace kite {
namespace {

TEST(Det, KnownDeterminants) {
  // det [[2, 1], [1, 3]] = 5; det [[0, 2], [-3, 1]] = 6 (needs a pivot swap).
  Tensor a = Tensor::from_vector<double>({2, 1, 1, 3, 0, 2, -3, 1}, {2, 2, 2});
  std::vector<double> d = to_double_vector(logabsdet(a));
  EXPECT_NEAR(d[0], std::log(5.0), 1e-14);
  EXPECT_NEAR(d[1], std::log(6.0), 1e-14);
}

TEST(Det, Float32Matches) {
  Tensor a = Tensor::from_vector<float>({4, 1, 0, 1, 3, 1, 0, 1, 2}, {3, 3});
  EXPECT_NEAR(logabsdet(a).item<double>(), std::log(18.0), 1e-6);
}

TEST(Det, InverseTimesMatrixIsIdentity) {
  manual_seed(3);
  Tensor a = randn({4, 5, 5}, DType::Float64);
  Tensor product = matmul(inverse(a), a);
  std::vector<double> p = to_double_vector(product);
  for (int64_t b = 0; b < 4; ++b)
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 5; ++j)
        EXPECT_NEAR(p[(b * 5 + i) * 5 + j], i == j ? 1.0 : 0.0, 1e-10);
}

TEST(Det, SingularInverseIsAnError) {
  Tensor a = Tensor::from_vector<double>({1, 2, 2, 4}, {2, 2});
  EXPECT_TRUE(std::isinf(logabsdet(a).item<double>()));
  try {
    inverse(a);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("singular"), std::string::npos) << e.what();
  }
}

TEST(Det, NonSquareIsAnError) {
  try {
    logabsdet(zeros({2, 3}, DType::Float64));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("logabsdet: expected square"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace kite
