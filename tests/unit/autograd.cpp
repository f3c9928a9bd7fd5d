// The autograd engine: backward, grad, create_graph (gradients of gradients), accumulation,
// no-grad, detach, freed graphs, and a gradient checker that catches a wrong backward.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/gradcheck.h"
#include "ops/ops.h"

namespace kite {
namespace {

Tensor scalar(double v) { return Tensor::from_vector<double>({v}, {}).set_requires_grad(true); }

TEST(Autograd, ChainRuleThroughSharedNode) {
  Tensor x = scalar(3.0);
  Tensor y = x * x;      // 9
  Tensor z = y * x + y;  // x^3 + x^2
  z.backward();
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 3 * 9.0 + 2 * 3.0);
}

TEST(Autograd, BackwardAccumulatesIntoGrad) {
  Tensor x = scalar(2.0);
  (x * x).backward();
  (x * x).backward();
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 8.0);
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, GradDoesNotTouchDotGrad) {
  Tensor x = scalar(2.0);
  Tensor y = exp(x);
  std::vector<Tensor> g = autograd::grad({y}, {x});
  EXPECT_NEAR(g[0].item<double>(), std::exp(2.0), 1e-12);
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, SecondAndThirdDerivatives) {
  Tensor x = scalar(0.7);
  Tensor y = x * x * x;  // y' = 3x^2, y'' = 6x, y''' = 6
  Tensor dy = autograd::grad({y}, {x}, {}, true)[0];
  EXPECT_NEAR(dy.item<double>(), 3 * 0.49, 1e-12);
  Tensor d2y = autograd::grad({dy}, {x}, {}, true)[0];
  EXPECT_NEAR(d2y.item<double>(), 6 * 0.7, 1e-12);
  Tensor d3y = autograd::grad({d2y}, {x})[0];
  EXPECT_NEAR(d3y.item<double>(), 6.0, 1e-12);
}

TEST(Autograd, GradOfNonLeafInput) {
  Tensor x = scalar(1.5);
  Tensor h = x * x;
  Tensor y = exp(h);
  Tensor dh = autograd::grad({y}, {h})[0];
  EXPECT_NEAR(dh.item<double>(), std::exp(2.25), 1e-12);
}

TEST(Autograd, NoGradRecordsNothing) {
  Tensor x = scalar(1.0);
  NoGradGuard guard;
  Tensor y = x * x;
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
}

TEST(Autograd, DetachCutsTheGraph) {
  Tensor x = scalar(2.0);
  Tensor y = (x * x).detach();
  EXPECT_FALSE(y.requires_grad());
  Tensor z = y * x;  // gradient only through the second factor
  z.backward();
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 4.0);
}

TEST(Autograd, SecondBackwardOnFreedGraphIsAnError) {
  Tensor x = scalar(2.0);
  Tensor y = exp(x * x);
  y.backward();
  try {
    y.backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already freed"), std::string::npos) << e.what();
  }
}

TEST(Autograd, NonScalarBackwardNeedsGradOutput) {
  Tensor x = Tensor::from_vector<double>({1, 2, 3}, {3}).set_requires_grad(true);
  Tensor y = x * x;
  EXPECT_THROW(y.backward(), Error);
  y.backward(Tensor::from_vector<double>({1, 1, 1}, {3}));
  EXPECT_EQ(to_double_vector(x.grad()), (std::vector<double>{2, 4, 6}));
}

TEST(Autograd, UnusedInputIsAnErrorUnlessAllowed) {
  Tensor x = scalar(1.0), w = scalar(2.0);
  Tensor y = x * x;
  EXPECT_THROW(autograd::grad({y}, {w}), Error);
  Tensor y2 = x * x;
  EXPECT_FALSE(autograd::grad({y2}, {w}, {}, false, true)[0].defined());
}

TEST(Autograd, LeafGradsAreIndependentTensors) {
  // add passes the same gradient tensor to both inputs; in-place scaling of one .grad must
  // not change the other.
  Tensor a = scalar(1.0), b = scalar(2.0);
  (a + b).backward();
  NoGradGuard guard;
  copy_(a.grad(), full_like(a.grad(), 5.0));
  EXPECT_DOUBLE_EQ(b.grad().item<double>(), 1.0);
}

// An op whose recorded backward is deliberately wrong: forward exp(x), backward 2 g.
Tensor wrong_exp(const Tensor& x) {
  Tensor out;
  {
    NoGradGuard guard;
    out = exp(x);
  }
  autograd::record("wrong_exp", {x}, out, [](const Tensor& g, const BackwardContext&) {
    return std::vector<Tensor>{g * 2.0};
  });
  return out;
}

TEST(Gradcheck, PassesOnACorrectOp) {
  Tensor x = Tensor::from_vector<double>({0.1, -0.4, 1.2}, {3}).set_requires_grad(true);
  GradcheckResult r =
      gradcheck([](const std::vector<Tensor>& in) { return exp(in[0]) * in[0]; }, {x});
  EXPECT_TRUE(r.ok) << r.message;
  GradcheckResult r2 =
      gradgradcheck([](const std::vector<Tensor>& in) { return exp(in[0]) * in[0]; }, {x});
  EXPECT_TRUE(r2.ok) << r2.message;
}

TEST(Gradcheck, FailsOnAWrongBackward) {
  Tensor x = Tensor::from_vector<double>({0.1, -0.4, 1.2}, {3}).set_requires_grad(true);
  GradcheckResult r =
      gradcheck([](const std::vector<Tensor>& in) { return wrong_exp(in[0]); }, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("analytic"), std::string::npos) << r.message;
}

TEST(Gradcheck, RejectsFloat32Inputs) {
  Tensor x = Tensor::from_vector<float>({1.0f}, {1}).set_requires_grad(true);
  EXPECT_THROW(gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0]; }, {x}), Error);
}

}  // namespace
}  // namespace kite
