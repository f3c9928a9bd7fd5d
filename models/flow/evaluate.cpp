// Flow evaluation (see evaluate.h).
#include "models/flow/evaluate.h"

#include "engine/autograd.h"
#include "ops/ops.h"

namespace kite::flow {

double nll_per_dim(IResNet& flow, const Tensor& codes, int64_t batch_size) {
  NoGradGuard no_grad;
  const int64_t n = codes.size(0);
  double total = 0.0;
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t count = std::min(batch_size, n - start);
    Tensor log_p = flow.log_prob(narrow(codes, 0, start, count));
    total += sum(to_dtype(log_p, DType::Float64)).item<double>();
  }
  return -total / static_cast<double>(n) / static_cast<double>(codes.size(1));
}

InverseStats check_inverse_on_samples(IResNet& flow, int64_t n, double temperature,
                                      const InverseOptions& options, Generator* generator) {
  NoGradGuard no_grad;
  InverseStats stats;
  Tensor z = flow.sample_base(n, generator, temperature);
  Tensor x = flow.inverse(z, options, &stats);
  stats.max_residual = amax(abs(flow.transform(x) - z)).item<double>();
  return stats;
}

}  // namespace kite::flow
