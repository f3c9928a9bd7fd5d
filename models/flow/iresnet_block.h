// One invertible residual block: y = x + g(x), with
//   g = act, SNLinear(d -> h), act, SNLinear(h -> h), act, SNLinear(h -> d)
// and every SNLinear c-Lipschitz (c < 1), so g is a contraction and the block is invertible
// (i-ResNet, Behrmann et al. 2019; the decoupled VAE's stage 2).
//
// log |det (I + J_g(x))| three ways:
//   exact           J_g per sample from the layer chain, J_g = W3 D2 W2 D1 W1 D0 with D_k the
//                   activation derivatives, then a batched LU logabsdet. Exact, differentiable,
//                   O(B d h^2); the default for small d and for every reported likelihood.
//   series          log det(I + J) = sum_k (-1)^(k+1) tr(J^k) / k, truncated at n terms, each
//                   trace estimated with one Gaussian probe v (Hutchinson): v^T J^k v by k
//                   vector-Jacobian products with create_graph. Biased by the truncation.
//   russian_roulette  Residual Flows' unbiased version: 2 exact terms plus N ~ Poisson(2)
//                   more, term k weighted by 1 / P(N >= k - 2).
#pragma once

#include <memory>

#include "engine/generator.h"
#include "models/nn/spectral_norm.h"

namespace kite::flow {

enum class Activation { ELU, LipSwish };
enum class LogdetMethod { Exact, Series, RussianRoulette };

struct LogdetOptions {
  LogdetMethod method = LogdetMethod::Exact;
  int series_terms = 5;            // for Series
  Generator* generator = nullptr;  // probes and roulette draws (default generator if null)
  // Series/roulette traces from all d basis vectors instead of one Gaussian probe (exact
  // traces; d times the cost; for tests).
  bool exact_trace = false;
};

struct InverseOptions {
  double atol = 1e-5, rtol = 1e-5;
  int max_iterations = 1000;
};

struct InverseStats {
  int iterations = 0;         // the largest count over blocks
  double max_residual = 0.0;  // max |x + g(x) - y| over elements and blocks
};

struct BlockConfig {
  int64_t dim = 32;
  int64_t hidden = 128;
  double coeff = 0.9;
  int power_iterations = 1;
  Activation activation = Activation::ELU;
};

class IResBlock : public nn::Module {
 public:
  IResBlock(const BlockConfig& config, DType dtype = DType::Float32,
            Generator* generator = nullptr);

  Tensor g(const Tensor& x);
  // y = x + g(x); when logdet is given, writes log|det dy/dx| per sample ([B]).
  Tensor forward(const Tensor& x, Tensor* logdet, const LogdetOptions& options = {});
  // The Jacobian of g per sample, [B, d, d], differentiable.
  Tensor jacobian_g(const Tensor& x);
  // Fixed-point inverse x <- y - g(x), starting at y - g(y). No grad.
  Tensor inverse(const Tensor& y, const InverseOptions& options = {},
                 InverseStats* stats = nullptr);

  std::vector<std::shared_ptr<nn::SNLinear>> layers() const { return {l1_, l2_, l3_}; }
  const BlockConfig& config() const { return config_; }

  Tensor lipswish_beta;  // raw parameter (beta = softplus(raw)), LipSwish only

 private:
  struct Weights {
    Tensor w1, w2, w3;
  };
  struct Activations {
    Tensor h1, h2, g;  // pre-activations of the 2nd and 3rd linear layers, and g(x)
  };
  Weights normalized_weights();
  Activations run_g(const Tensor& x, const Weights& w);
  Tensor jacobian_from(const Tensor& x, const Weights& w, const Activations& a);
  Tensor act(const Tensor& x);
  Tensor act_derivative(const Tensor& x);
  Tensor logdet_exact(const Tensor& jacobian);
  Tensor logdet_series(const Tensor& x, const Tensor& gx, const LogdetOptions& options);

  BlockConfig config_;
  std::shared_ptr<nn::SNLinear> l1_, l2_, l3_;
};

}  // namespace kite::flow
