// Fused optimizer kernels, the optimizer classes and the learning-rate schedules.
//
// The references are the update rules written out again here as plain loops in double
// (Adam in the textbook form with m-hat and v-hat, which is algebraically PyTorch's form),
// run for three steps on a small tensor; then the argument checks, the norm clip, state
// export/import continuing identically, and convergence on a quadratic.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include <unistd.h>

#include "engine/autograd.h"
#include "engine/checkpoint.h"
#include "engine/error.h"
#include "models/optim/adam.h"
#include "models/optim/lr_schedule.h"
#include "models/optim/sgd.h"
#include "ops/ops.h"

namespace kite {
namespace {

using optim::Adam;
using optim::AdamW;
using optim::SGD;

Tensor make(const std::vector<double>& values, const Shape& shape, DType dtype) {
  if (dtype == DType::Float64) return Tensor::from_vector(values, shape);
  return Tensor::from_vector(std::vector<float>(values.begin(), values.end()), shape);
}

Tensor make(const std::vector<double>& values, DType dtype) {
  return make(values, {static_cast<int64_t>(values.size())}, dtype);
}

double tolerance(DType dtype) { return dtype == DType::Float64 ? 1e-13 : 2e-6; }

void expect_close(const Tensor& t, const std::vector<double>& expected, double tol,
                  const std::string& what) {
  const std::vector<double> got = to_double_vector(t);
  ASSERT_EQ(got.size(), expected.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], expected[i], tol * std::max(1.0, std::abs(expected[i])))
        << what << " element " << i;
  }
}

template <class Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected kite::Error mentioning " << fragments[0];
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "message '" << message << "' lacks '" << fragment << "'";
    }
  }
}

constexpr DType kDtypes[] = {DType::Float32, DType::Float64};

// Initial parameter values and the gradients fed at steps 1, 2, 3 (a zero, signs, scales).
const std::vector<double> kParam0 = {0.5, -1.0, 2.0, 0.0};
const std::vector<std::vector<double>> kGrads = {
    {0.1, -0.2, 0.0, 1.5}, {0.3, 0.4, -0.5, -1.0}, {-0.05, 0.2, 0.25, 0.5}};

// ---- Reference rules, written out independently of ops/math/optim.h ----

std::vector<std::vector<double>> sgd_reference(const SgdParams& o) {
  std::vector<double> p = kParam0, buf(p.size(), 0.0);
  std::vector<std::vector<double>> after;
  for (size_t t = 0; t < kGrads.size(); ++t) {
    for (size_t i = 0; i < p.size(); ++i) {
      double d = kGrads[t][i] + o.weight_decay * p[i];
      if (o.momentum != 0.0) {
        buf[i] = t == 0 ? d : o.momentum * buf[i] + d;
        d = o.nesterov ? d + o.momentum * buf[i] : buf[i];
      }
      p[i] -= o.lr * d;
    }
    after.push_back(p);
  }
  return after;
}

std::vector<std::vector<double>> adam_reference(const AdamParams& o) {
  std::vector<double> p = kParam0, m(p.size(), 0.0), v(p.size(), 0.0);
  std::vector<std::vector<double>> after;
  for (size_t t = 1; t <= kGrads.size(); ++t) {
    for (size_t i = 0; i < p.size(); ++i) {
      double g = kGrads[t - 1][i];
      if (o.decoupled_weight_decay) {
        p[i] -= o.lr * o.weight_decay * p[i];
      } else {
        g += o.weight_decay * p[i];
      }
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
      const double m_hat = m[i] / (1 - std::pow(o.beta1, t));
      const double v_hat = v[i] / (1 - std::pow(o.beta2, t));
      p[i] -= o.lr * m_hat / (std::sqrt(v_hat) + o.eps);
    }
    after.push_back(p);
  }
  return after;
}

// ---- Fused kernels ----

std::vector<SgdParams> sgd_configs() {
  SgdParams plain;
  plain.lr = 0.1;
  SgdParams decay = plain;
  decay.weight_decay = 0.1;
  SgdParams momentum = decay;
  momentum.momentum = 0.9;
  SgdParams nesterov = momentum;
  nesterov.nesterov = true;
  return {plain, decay, momentum, nesterov};
}

TEST(SgdStep, ThreeStepsMatchTheReference) {
  for (DType dt : kDtypes) {
    for (const SgdParams& o : sgd_configs()) {
      const auto expected = sgd_reference(o);
      const Tensor p = make(kParam0, dt);
      const Tensor buf = o.momentum != 0.0 ? zeros({4}, dt) : Tensor();
      for (size_t t = 0; t < kGrads.size(); ++t) {
        sgd_step_(p, make(kGrads[t], dt), buf, o, t == 0);
        expect_close(p, expected[t], tolerance(dt),
                     std::string("sgd ") + dtype_name(dt) + " momentum " +
                         std::to_string(o.momentum) + (o.nesterov ? " nesterov" : "") + " step " +
                         std::to_string(t + 1));
      }
    }
  }
}

TEST(SgdStep, FirstStepIgnoresStaleBufferContents) {
  SgdParams o = sgd_configs()[2];
  const Tensor p = make(kParam0, DType::Float64);
  const Tensor buf = full({4}, 123.0, DType::Float64);  // garbage from an earlier run
  sgd_step_(p, make(kGrads[0], DType::Float64), buf, o, /*first_step=*/true);
  expect_close(p, sgd_reference(o)[0], 1e-15, "sgd first step");
}

TEST(AdamStep, AdamAndAdamWThreeStepsMatchTheReference) {
  AdamParams adam;
  adam.lr = 0.01;
  adam.weight_decay = 0.1;
  AdamParams adamw = adam;
  adamw.decoupled_weight_decay = true;
  AdamParams betas = adam;  // Residual Flows' betas, no decay
  betas.beta2 = 0.99;
  betas.weight_decay = 0.0;
  for (DType dt : kDtypes) {
    for (const AdamParams& o : {adam, adamw, betas}) {
      const auto expected = adam_reference(o);
      const Tensor p = make(kParam0, dt);
      const Tensor m = zeros({4}, dt);
      const Tensor v = zeros({4}, dt);
      for (size_t t = 0; t < kGrads.size(); ++t) {
        adam_step_(p, make(kGrads[t], dt), m, v, o, static_cast<int64_t>(t + 1));
        expect_close(p, expected[t], tolerance(dt),
                     std::string(o.decoupled_weight_decay ? "adamw " : "adam ") + dtype_name(dt) +
                         " step " + std::to_string(t + 1));
      }
    }
  }
}

TEST(AdamStep, DecoupledDecayDiffersFromL2) {
  // With the same weight decay, Adam and AdamW must take different steps on a nonzero
  // parameter: guards against the flag being ignored.
  AdamParams o;
  o.lr = 0.1;
  o.weight_decay = 0.5;
  AdamParams w = o;
  w.decoupled_weight_decay = true;
  // Element 0 (p = 0.5, g = 0.1): Adam steps on g + 0.5 p, AdamW shrinks p by 5% and steps
  // on g; the results are 0.4 and 0.375.
  EXPECT_GT(std::abs(adam_reference(o)[0][0] - adam_reference(w)[0][0]), 1e-2);
  const Tensor p1 = make(kParam0, DType::Float64), p2 = make(kParam0, DType::Float64);
  adam_step_(p1, make(kGrads[0], DType::Float64), zeros({4}, DType::Float64),
             zeros({4}, DType::Float64), o, 1);
  adam_step_(p2, make(kGrads[0], DType::Float64), zeros({4}, DType::Float64),
             zeros({4}, DType::Float64), w, 1);
  expect_close(p1, adam_reference(o)[0], 1e-14, "adam");
  expect_close(p2, adam_reference(w)[0], 1e-14, "adamw");
}

TEST(FusedSteps, LargeTensorsUseTheThreadedPathWithTheSameResult) {
  const int64_t n = 100003;  // above the OpenMP threshold, not a multiple of anything
  std::vector<double> p0(n), g(n);
  for (int64_t i = 0; i < n; ++i) {
    p0[i] = std::sin(0.001 * i);
    g[i] = std::cos(0.003 * i) - 0.2;
  }
  AdamParams o;
  o.lr = 0.05;
  o.weight_decay = 0.01;
  const Tensor p = make(p0, DType::Float64);
  adam_step_(p, make(g, DType::Float64), zeros({n}, DType::Float64), zeros({n}, DType::Float64), o,
             1);
  const std::vector<double> got = to_double_vector(p);
  for (int64_t i = 0; i < n; i += 997) {
    const double gi = g[i] + o.weight_decay * p0[i];
    const double m_hat = gi, v_hat = gi * gi;  // bias-corrected first step
    const double expected = p0[i] - o.lr * m_hat / (std::sqrt(v_hat) + o.eps);
    ASSERT_NEAR(got[i], expected, 1e-13) << "element " << i;
  }
  // SGD with momentum on the same data.
  SgdParams s;
  s.lr = 0.1;
  s.momentum = 0.9;
  const Tensor q = make(p0, DType::Float32);
  const Tensor buf = zeros({n}, DType::Float32);
  sgd_step_(q, make(g, DType::Float32), buf, s, true);
  sgd_step_(q, make(g, DType::Float32), buf, s, false);
  const std::vector<double> got_q = to_double_vector(q);
  for (int64_t i = 0; i < n; i += 997) {
    const double expected = p0[i] - 0.1 * g[i] - 0.1 * (0.9 * g[i] + g[i]);
    ASSERT_NEAR(got_q[i], expected, 1e-6) << "element " << i;
  }
}

TEST(FusedSteps, ArgumentChecksSayWhatIsWrong) {
  const Tensor p = make(kParam0, DType::Float32);
  const Tensor g = make(kGrads[0], DType::Float32);
  const Tensor m = zeros({4}), v = zeros({4});
  const AdamParams adam;
  SgdParams sgd;
  expect_error([&] { adam_step_(p, make(kGrads[0], DType::Float64), m, v, adam, 1); },
               {"adam_step_", "grad", "float64", "float32"});
  expect_error(
      [&] {
        adam_step_(p, zeros({2, 2}), m, v, adam, 1);
      },
      {"adam_step_", "grad", "shape", "[2, 2]", "[4]"});
  expect_error([&] { adam_step_(p, g, m, zeros({5}), adam, 1); }, {"adam_step_", "exp_avg_sq"});
  expect_error([&] { adam_step_(p, g, m, m, adam, 1); },
               {"adam_step_", "exp_avg", "exp_avg_sq", "share"});
  expect_error([&] { adam_step_(p, g, m, v, adam, 0); }, {"adam_step_", "step", "from 1"});
  AdamParams bad_beta;
  bad_beta.beta2 = 1.0;
  expect_error([&] { adam_step_(p, g, m, v, bad_beta, 1); }, {"adam_step_", "beta2"});
  AdamParams w;
  w.decoupled_weight_decay = true;
  expect_error([&] { adam_step_(p, g, Tensor(), v, w, 1); }, {"adamw_step_", "exp_avg"});
  // A strided view of a parameter cannot be updated as a flat array.
  const Tensor wide = zeros({4, 2});
  const Tensor column = select(wide, 1, 0);
  ASSERT_FALSE(column.is_contiguous());
  expect_error([&] { sgd_step_(column, g, Tensor(), sgd, true); },
               {"sgd_step_", "param", "contiguous"});
  expect_error(
      [&] {
        sgd_step_(p, select(zeros({4, 2}), 1, 1), Tensor(), sgd, true);
      },
      {"sgd_step_", "grad", "contiguous"});
  expect_error(
      [&] {
        sgd_step_(Tensor::from_vector<int64_t>({1, 2, 3, 4}, {4}), g, Tensor(), sgd, true);
      },
      {"sgd_step_", "float32 or float64", "int64"});
  sgd.momentum = 0.9;
  expect_error([&] { sgd_step_(p, g, Tensor(), sgd, true); },
               {"sgd_step_", "momentum_buffer", "undefined"});
  SgdParams nesterov;
  nesterov.nesterov = true;
  expect_error([&] { sgd_step_(p, g, Tensor(), nesterov, true); },
               {"sgd_step_", "nesterov", "momentum"});
  SgdParams negative;
  negative.lr = -1;
  expect_error([&] { sgd_step_(p, g, Tensor(), negative, true); }, {"sgd_step_", "lr"});
  // Nothing above may have changed the parameter.
  expect_close(p, kParam0, 0.0, "param after failed steps");
}

// ---- clip_grad_norm_ ----

TEST(ClipGradNorm, ScalesAllGradientsJointly) {
  const Tensor a = make({3, 0}, DType::Float32);
  const Tensor b = make({4, 12}, {1, 2}, DType::Float64);  // joint norm sqrt(9+16+144) = 13
  const double norm = clip_grad_norm_({a, Tensor(), b}, 6.5);
  EXPECT_DOUBLE_EQ(norm, 13.0);
  const double scale = 6.5 / (13.0 + 1e-6);
  expect_close(a, {3 * scale, 0}, 1e-7, "clipped a");
  expect_close(b, {4 * scale, 12 * scale}, 1e-15, "clipped b");
  // The clipped gradients now have norm 6.5 * 13 / (13 + 1e-6), just under 6.5; a clip to a
  // larger max_norm leaves them alone.
  const std::vector<double> before = to_double_vector(b);
  const double second = clip_grad_norm_({a, b}, 7.0);
  EXPECT_NEAR(second, 6.5 * 13.0 / (13.0 + 1e-6), 1e-6);
  expect_close(b, before, 0.0, "not clipped again");
}

TEST(ClipGradNorm, LeavesSmallGradientsAlone) {
  const Tensor g = make({0.3, -0.4}, DType::Float64);
  EXPECT_DOUBLE_EQ(clip_grad_norm_({g}, 1.0), 0.5);
  expect_close(g, {0.3, -0.4}, 0.0, "unclipped");
  const Tensor zero = zeros({3}, DType::Float64);
  EXPECT_EQ(clip_grad_norm_({zero}, 1.0), 0.0);
  EXPECT_EQ(clip_grad_norm_({}, 1.0), 0.0);
}

TEST(ClipGradNorm, LargeFloat32GradientsAccumulateInDouble) {
  // 2^20 values of 1e-3 in float32: the sum of squares is 1.048576 exactly in real
  // arithmetic; a float accumulator would drift, the double one does not.
  const int64_t n = 1 << 20;
  const Tensor g = full({n}, 1e-3, DType::Float32);
  const double value = static_cast<double>(1e-3f);
  const double expected = std::sqrt(static_cast<double>(n) * value * value);
  EXPECT_NEAR(clip_grad_norm_({g}, 1e9), expected, 1e-12 * expected);
}

TEST(ClipGradNorm, Errors) {
  const Tensor g = make({1, 2}, DType::Float64);
  expect_error([&] { clip_grad_norm_({g}, 0.0); }, {"clip_grad_norm_", "max_norm"});
  expect_error(
      [&] {
        clip_grad_norm_({g, select(zeros({2, 2}), 1, 0)}, 1.0);
      },
      {"clip_grad_norm_", "gradient 1", "contiguous"});
}

// ---- Optimizer classes ----

Tensor parameter(DType dt) {
  Tensor p = make(kParam0, dt);
  p.set_requires_grad(true);
  return p;
}

TEST(Optimizers, ThreeStepsThroughTheClassesMatchTheReference) {
  for (DType dt : kDtypes) {
    for (const SgdParams& o : sgd_configs()) {
      Tensor p = parameter(dt);
      SGD sgd({p}, o);
      const auto expected = sgd_reference(o);
      for (size_t t = 0; t < kGrads.size(); ++t) {
        sgd.zero_grad();
        EXPECT_FALSE(p.grad().defined());
        p.set_grad(make(kGrads[t], dt));
        sgd.step();
        expect_close(p, expected[t], tolerance(dt), "SGD step " + std::to_string(t + 1));
      }
      EXPECT_EQ(sgd.step_count(), 3);
    }
    AdamParams o;
    o.lr = 0.01;
    o.weight_decay = 0.1;
    Tensor pa = parameter(dt), pw = parameter(dt);
    Adam adam({pa}, o);
    AdamW adamw({pw}, o);  // same options, decoupled forced on
    EXPECT_TRUE(adamw.options().decoupled_weight_decay);
    AdamParams ow = o;
    ow.decoupled_weight_decay = true;
    const auto expected_adam = adam_reference(o), expected_adamw = adam_reference(ow);
    for (size_t t = 0; t < kGrads.size(); ++t) {
      pa.set_grad(make(kGrads[t], dt));
      pw.set_grad(make(kGrads[t], dt));
      adam.step();
      adamw.step();
      expect_close(pa, expected_adam[t], tolerance(dt), "Adam step " + std::to_string(t + 1));
      expect_close(pw, expected_adamw[t], tolerance(dt), "AdamW step " + std::to_string(t + 1));
    }
  }
}

TEST(Optimizers, AdamWDefaultsAreTorchs) {
  const AdamParams d = AdamW::default_options();
  EXPECT_EQ(d.lr, 1e-3);
  EXPECT_EQ(d.beta1, 0.9);
  EXPECT_EQ(d.beta2, 0.999);
  EXPECT_EQ(d.eps, 1e-8);
  EXPECT_EQ(d.weight_decay, 1e-2);
}

TEST(Optimizers, ParametersWithoutGradAreSkippedAndKeepTheirOwnStepCount) {
  AdamParams o;
  o.lr = 0.01;
  Tensor used = parameter(DType::Float64), unused = parameter(DType::Float64);
  Adam adam({used, unused}, o);
  for (int t = 0; t < 2; ++t) {
    used.set_grad(make(kGrads[t], DType::Float64));
    adam.step();
  }
  expect_close(unused, kParam0, 0.0, "untouched parameter");
  const auto state = adam.state_tensors("opt.");
  EXPECT_EQ(state.count("opt.1.step"), 0u);
  EXPECT_EQ(state.at("opt.0.step").item<int64_t>(), 2);
  // Its first update later is a first Adam step (bias correction with t = 1), even though
  // the optimizer has taken two steps already.
  used.zero_grad();
  unused.set_grad(make(kGrads[0], DType::Float64));
  adam.step();
  expect_close(unused, adam_reference(o)[0], 1e-14, "late first step");
  EXPECT_EQ(adam.step_count(), 3);
}

TEST(Optimizers, LearningRateChangesTakeEffect) {
  SgdParams o;
  o.lr = 0.1;
  Tensor p = parameter(DType::Float64);
  SGD sgd({p}, o);
  sgd.set_learning_rate(0.5);
  EXPECT_EQ(sgd.learning_rate(), 0.5);
  p.set_grad(make({1, 1, 1, 1}, DType::Float64));
  sgd.step();
  expect_close(p, {0.0, -1.5, 1.5, -0.5}, 1e-15, "lr 0.5");
  expect_error([&] { sgd.set_learning_rate(-1); }, {"SGD", "learning rate"});
}

TEST(Optimizers, ConstructorChecks) {
  Tensor p = parameter(DType::Float32);
  expect_error([&] { SGD({}, SgdParams{}); }, {"SGD", "empty"});
  expect_error([&] { Adam({p, p}); }, {"Adam", "parameter 1", "same tensor"});
  Tensor q = parameter(DType::Float32);
  const Tensor not_leaf = q * 2.0;
  expect_error([&] { Adam({not_leaf}); }, {"Adam", "parameter 0", "leaf"});
  AdamParams bad;
  bad.beta1 = 1.5;
  expect_error([&] { AdamW({p}, bad); }, {"AdamW", "beta1"});
  SgdParams nesterov;
  nesterov.nesterov = true;
  expect_error([&] { SGD({p}, nesterov); }, {"SGD", "nesterov"});
}

// ---- State export / import ----

// Gradients of the quadratic 0.5 * sum(k_i p_i^2), as a deterministic stream.
Tensor quadratic_grad(const Tensor& p, int step) {
  std::vector<double> values = to_double_vector(p);
  for (size_t i = 0; i < values.size(); ++i) values[i] *= (1.0 + i) * (1.0 + 0.1 * step);
  return make(values, p.shape(), p.dtype());
}

template <class MakeOptimizer>
void check_round_trip(MakeOptimizer make_optimizer, bool through_file) {
  Tensor a0 = parameter(DType::Float32), a1 = make({1, 2, 3, 4, 5, 6}, {2, 3}, DType::Float64);
  a1.set_requires_grad(true);
  auto first = make_optimizer(std::vector<Tensor>{a0, a1});
  for (int t = 0; t < 3; ++t) {
    a0.set_grad(quadratic_grad(a0, t));
    a1.set_grad(quadratic_grad(a1, t));
    first->step();
  }
  first->set_learning_rate(first->learning_rate() * 0.5);
  std::map<std::string, Tensor> state = first->state_tensors("optimizer.");
  if (through_file) {
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("kite_optim_state_" + std::to_string(::getpid()) + ".safetensors"))
                                 .string();
    save_checkpoint(path, Checkpoint{state, {}});
    state = load_checkpoint(path).tensors;
    std::filesystem::remove(path);
  }
  // A second optimizer on copies of the parameters, restored from the exported state.
  Tensor b0 = clone(a0).detach(), b1 = clone(a1).detach();
  b0.set_requires_grad(true);
  b1.set_requires_grad(true);
  auto second = make_optimizer(std::vector<Tensor>{b0, b1});
  second->load_state_tensors(state, "optimizer.");
  EXPECT_EQ(second->step_count(), 3);
  EXPECT_EQ(second->learning_rate(), first->learning_rate());
  for (int t = 3; t < 6; ++t) {
    a0.set_grad(quadratic_grad(a0, t));
    a1.set_grad(quadratic_grad(a1, t));
    b0.set_grad(quadratic_grad(b0, t));
    b1.set_grad(quadratic_grad(b1, t));
    first->step();
    second->step();
  }
  // Bit-for-bit: the same arithmetic on the same state.
  EXPECT_EQ(to_double_vector(a0), to_double_vector(b0));
  EXPECT_EQ(to_double_vector(a1), to_double_vector(b1));
  // And the restored optimizer did move its parameters.
  EXPECT_NE(to_double_vector(b1), (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

TEST(OptimizerState, RoundTripContinuesIdentically) {
  AdamParams adam;
  adam.lr = 0.05;
  adam.weight_decay = 0.01;
  SgdParams sgd;
  sgd.lr = 0.05;
  sgd.momentum = 0.9;
  sgd.nesterov = true;
  for (bool through_file : {false, true}) {
    check_round_trip([&](std::vector<Tensor> ps) { return std::make_unique<Adam>(ps, adam); },
                     through_file);
    check_round_trip([&](std::vector<Tensor> ps) { return std::make_unique<AdamW>(ps, adam); },
                     through_file);
    check_round_trip([&](std::vector<Tensor> ps) { return std::make_unique<SGD>(ps, sgd); },
                     through_file);
  }
}

TEST(OptimizerState, ExportNamesAndSnapshotSemantics) {
  AdamParams o;
  o.lr = 0.01;
  Tensor p = parameter(DType::Float32);
  Adam adam({p}, o);
  p.set_grad(make(kGrads[0], DType::Float32));
  adam.step();
  const auto state = adam.state_tensors();
  ASSERT_EQ(state.size(), 5u);
  EXPECT_EQ(state.at("optim.step").dtype(), DType::Int64);
  EXPECT_EQ(state.at("optim.step").dim(), 0);
  EXPECT_EQ(state.at("optim.lr").item<double>(), 0.01);
  EXPECT_EQ(state.at("optim.0.step").item<int64_t>(), 1);
  // After one step m = (1 - beta1) g and v = (1 - beta2) g^2.
  std::vector<double> m, v;
  for (double g : kGrads[0]) {
    m.push_back(0.1 * g);
    v.push_back(0.001 * g * g);
  }
  expect_close(state.at("optim.0.exp_avg"), m, 1e-7, "exp_avg");
  expect_close(state.at("optim.0.exp_avg_sq"), v, 1e-7, "exp_avg_sq");
  // A snapshot: further steps do not change the exported tensors.
  p.set_grad(make(kGrads[1], DType::Float32));
  adam.step();
  expect_close(state.at("optim.0.exp_avg"), m, 1e-7, "exp_avg snapshot");
}

TEST(OptimizerState, LoadRejectsMismatchedState) {
  Tensor p = parameter(DType::Float32);
  Adam adam({p});
  p.set_grad(make(kGrads[0], DType::Float32));
  adam.step();
  const auto good = adam.state_tensors();
  auto wrong_shape = good;
  wrong_shape["optim.0.exp_avg"] = zeros({5});
  expect_error([&] { adam.load_state_tensors(wrong_shape); },
               {"Adam.load_state_tensors", "optim.0.exp_avg", "float32[5]", "float32[4]"});
  auto unknown = good;
  unknown["optim.0.momentum_buffer"] = zeros({4});
  expect_error([&] { adam.load_state_tensors(unknown); },
               {"Adam", "optim.0.momentum_buffer", "no buffer"});
  auto out_of_range = good;
  out_of_range["optim.3.step"] = Tensor::from_vector<int64_t>({1}, {});
  expect_error([&] { adam.load_state_tensors(out_of_range); }, {"optim.3.step", "1 parameters"});
  auto missing = good;
  missing.erase("optim.0.exp_avg_sq");
  expect_error([&] { adam.load_state_tensors(missing); }, {"optim.0.exp_avg_sq"});
  auto no_step = good;
  no_step.erase("optim.step");
  expect_error([&] { adam.load_state_tensors(no_step); }, {"missing", "optim.step"});
  // A failed load leaves the optimizer as it was.
  EXPECT_EQ(adam.step_count(), 1);
  EXPECT_EQ(adam.state_tensors().size(), good.size());
}

// ---- Convergence ----

TEST(Optimizers, MinimiseAQuadratic) {
  // f(p) = sum(w * (p - c)^2): a badly conditioned bowl (w from 0.5 to 8) with its minimum at c.
  const Tensor c = make({1.0, -2.0, 0.5, 3.0}, DType::Float64);
  const Tensor w = make({0.5, 1.0, 4.0, 8.0}, DType::Float64);
  auto run = [&](optim::Optimizer& optimizer, Tensor& p, const optim::LrSchedule& schedule,
                 int steps) {
    double loss_value = 0.0;
    for (int t = 0; t < steps; ++t) {
      optimizer.zero_grad();
      Tensor loss = sum(w * square(p - c));
      loss_value = loss.item<double>();
      loss.backward();
      optim::apply_schedule(optimizer, schedule);
      optimizer.step();
    }
    return loss_value;
  };
  {
    Tensor p = zeros({4}, DType::Float64);
    p.set_requires_grad(true);
    SgdParams o;
    o.momentum = 0.9;
    SGD sgd({p}, o);
    const double start = sum(w * square(c)).item<double>();
    const double final_loss = run(sgd, p, optim::ConstantLr(0.02), 300);
    EXPECT_LT(final_loss, 1e-10 * start);
    expect_close(p, {1.0, -2.0, 0.5, 3.0}, 1e-5, "SGD minimum");
  }
  {
    Tensor p = zeros({4}, DType::Float64);
    p.set_requires_grad(true);
    Adam adam({p});
    const double final_loss = run(adam, p, optim::CosineLr(0.1, 0.0, 2000), 2000);
    EXPECT_LT(final_loss, 1e-8);
    expect_close(p, {1.0, -2.0, 0.5, 3.0}, 1e-4, "Adam minimum");
  }
}

// ---- Schedules ----

TEST(LrSchedules, ValuesAtChosenSteps) {
  const optim::ConstantLr constant(0.3);
  EXPECT_EQ(constant.lr(0), 0.3);
  EXPECT_EQ(constant.lr(123456), 0.3);

  const optim::StepDecayLr step_decay(1.0, 0.5, 10);
  EXPECT_DOUBLE_EQ(step_decay.lr(0), 1.0);
  EXPECT_DOUBLE_EQ(step_decay.lr(9), 1.0);
  EXPECT_DOUBLE_EQ(step_decay.lr(10), 0.5);
  EXPECT_DOUBLE_EQ(step_decay.lr(25), 0.25);

  // The decoupled-VAE flow: lr 4e-6, x0.8 per epoch of 100 steps.
  const optim::ExponentialLr per_epoch(4e-6, 0.8, 100);
  EXPECT_DOUBLE_EQ(per_epoch.lr(99), 4e-6);
  EXPECT_DOUBLE_EQ(per_epoch.lr(100), 4e-6 * 0.8);
  EXPECT_DOUBLE_EQ(per_epoch.lr(350), 4e-6 * 0.8 * 0.8 * 0.8);
  EXPECT_EQ(per_epoch.epoch(350), 3);

  const optim::CosineLr cosine(1.0, 0.1, 100);
  EXPECT_DOUBLE_EQ(cosine.lr(0), 1.0);
  EXPECT_DOUBLE_EQ(cosine.lr(50), 0.55);
  EXPECT_DOUBLE_EQ(cosine.lr(25), 0.1 + 0.9 * 0.5 * (1 + std::sqrt(0.5)));
  EXPECT_DOUBLE_EQ(cosine.lr(100), 0.1);
  EXPECT_DOUBLE_EQ(cosine.lr(1000), 0.1);

  // Warm-up over 4 steps on top of a cosine: factor (step + 1) / 4 until step 3.
  const optim::WarmupLr warm(std::make_shared<optim::CosineLr>(1.0, 0.1, 100), 4);
  EXPECT_DOUBLE_EQ(warm.lr(0), 0.25 * cosine.lr(0));
  EXPECT_DOUBLE_EQ(warm.lr(1), 0.5 * cosine.lr(1));
  EXPECT_DOUBLE_EQ(warm.lr(3), cosine.lr(3));
  EXPECT_DOUBLE_EQ(warm.lr(50), 0.55);
  const optim::WarmupLr warm_constant(std::make_shared<optim::ConstantLr>(1e-3), 1000);
  EXPECT_DOUBLE_EQ(warm_constant.lr(0), 1e-6);
  EXPECT_DOUBLE_EQ(warm_constant.lr(499), 5e-4);
  EXPECT_DOUBLE_EQ(warm_constant.lr(5000), 1e-3);
}

TEST(LrSchedules, ApplyUsesTheStepCountAndChecksArguments) {
  Tensor p = parameter(DType::Float64);
  SGD sgd({p}, SgdParams{});
  const optim::StepDecayLr schedule(1.0, 0.1, 2);
  for (int t = 0; t < 3; ++t) {
    p.set_grad(zeros({4}, DType::Float64));
    sgd.step();
  }
  optim::apply_schedule(sgd, schedule);  // step_count 3 -> floor(3 / 2) = 1 decay
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), 0.1);
  expect_error([] { optim::StepDecayLr(1.0, 0.5, 0); }, {"StepDecayLr", "every_steps"});
  expect_error([] { optim::CosineLr(0.1, 1.0, 10); }, {"CosineLr", "min_lr"});
  expect_error([] { optim::ExponentialLr(1.0, 1.5, 10); }, {"ExponentialLr", "gamma"});
  expect_error([] { optim::WarmupLr(nullptr, 10); }, {"WarmupLr"});
  expect_error([] { optim::ConstantLr(1.0).lr(-1); }, {"ConstantLr", "step"});
}

}  // namespace
}  // namespace kite
