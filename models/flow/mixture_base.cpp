// The flow's Gaussian-mixture base (see mixture_base.h).
#include "models/flow/mixture_base.h"

#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "ops/det.h"
#include "ops/ops.h"

namespace kite::flow {

namespace {

Tensor as_cpu_double(const Tensor& x) {
  return to_dtype(to_device(x.detach(), Device::cpu()), DType::Float64);
}

// Copies a CPU float64 value into a parameter, whatever the parameter's device and dtype.
void assign(const Tensor& parameter, const Tensor& value) {
  NoGradGuard no_grad;
  copy_(parameter, to_device(to_dtype(value, parameter.dtype()), parameter.device()));
}

}  // namespace

MixtureBase::MixtureBase(int64_t components, int64_t dim, DType dtype) {
  KITE_CHECK(components > 0 && dim > 0, "MixtureBase: components and dim must be positive, got "
                                            << components << " and " << dim);
  // Until set_from: K copies of N(0, I), a valid density.
  std::vector<double> identities(components * dim * dim, 0.0);
  for (int64_t k = 0; k < components; ++k)
    for (int64_t j = 0; j < dim; ++j) identities[(k * dim + j) * dim + j] = 1.0;
  logits = zeros({components}, dtype);
  means = zeros({components, dim}, dtype);
  whitening = to_dtype(Tensor::from_vector(identities, {components, dim, dim}), dtype);
  register_parameter("logits", &logits);
  register_parameter("means", &means);
  register_parameter("whitening", &whitening);
}

Tensor MixtureBase::log_prob(const Tensor& z) {
  KITE_CHECK(z.dim() == 2 && z.size(1) == dim(),
             "MixtureBase: expected z [batch, " << dim() << "], got " << describe(z));
  const double d = static_cast<double>(dim());
  Tensor centred = unsqueeze(z, 0) - unsqueeze(means, 1);           // [K, B, d]
  Tensor quadratic = sum(square(matmul(centred, whitening)), {2});  // [K, B]
  Tensor log_norm = log_softmax(logits, 0) + logabsdet(whitening) - 0.5 * d * std::log(2 * M_PI);
  return logsumexp(quadratic * -0.5 + unsqueeze(log_norm, 1), {0});
}

Tensor MixtureBase::sample(int64_t n, Generator* generator, double temperature) {
  Tensor s = to_gaussian_mixture().sample(n, generator, DType::Float64, temperature);
  return to_device(to_dtype(s, means.dtype()), means.device());
}

void MixtureBase::set_from(const prior::GaussianMixture& mixture) {
  const int64_t k = components(), d = dim();
  KITE_CHECK(mixture.components() == k && mixture.dim() == d,
             "MixtureBase::set_from: expected " << k << " components in " << d << "-d, got "
                                                << mixture.components() << " in " << mixture.dim()
                                                << "-d");
  NoGradGuard no_grad;
  Tensor lower = Tensor::from_vector(mixture.cholesky_factors(), {k, d, d});
  std::vector<double> log_weights;
  for (double w : mixture.weights()) log_weights.push_back(std::log(w));
  assign(logits, Tensor::from_vector(log_weights, {k}));
  assign(means, Tensor::from_vector(mixture.means(), {k, d}));
  assign(whitening, transpose(inverse(lower), 1, 2));
}

prior::GaussianMixture MixtureBase::to_gaussian_mixture() const {
  NoGradGuard no_grad;
  Tensor unwhitening = inverse(as_cpu_double(whitening));                 // W^{-1}
  Tensor covariance = matmul(transpose(unwhitening, 1, 2), unwhitening);  // W^{-T} W^{-1}
  covariance = (covariance + transpose(covariance, 1, 2)) * 0.5;          // exactly symmetric
  return prior::GaussianMixture::from_parameters(
      to_double_vector(softmax(as_cpu_double(logits), 0)), to_double_vector(as_cpu_double(means)),
      to_double_vector(contiguous(covariance)), dim());
}

}  // namespace kite::flow
