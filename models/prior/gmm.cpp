// Gaussian mixture fitted by EM (see gmm.h).
#include "models/prior/gmm.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "engine/error.h"

namespace kite::prior {
namespace {

constexpr double kLog2Pi = 1.8378770664093454836;

// In-place lower Cholesky factor of a d x d matrix; false if not positive definite.
bool cholesky_in_place(std::vector<double>& a, int64_t d, double* out) {
  for (int64_t j = 0; j < d; ++j) {
    double diag = a[j * d + j];
    for (int64_t k = 0; k < j; ++k) diag -= out[j * d + k] * out[j * d + k];
    if (!(diag > 0)) return false;
    out[j * d + j] = std::sqrt(diag);
    for (int64_t i = j + 1; i < d; ++i) {
      double v = a[i * d + j];
      for (int64_t k = 0; k < j; ++k) v -= out[i * d + k] * out[j * d + k];
      out[i * d + j] = v / out[j * d + j];
    }
    for (int64_t k = j + 1; k < d; ++k) out[j * d + k] = 0.0;
  }
  return true;
}

std::vector<double> rows_as_double(const Tensor& x, int64_t& n, int64_t& d) {
  KITE_CHECK(x.dim() == 2, "GaussianMixture: expected codes [n, d], got " << describe(x));
  n = x.size(0);
  d = x.size(1);
  std::vector<double> values = to_double_vector(x);
  for (double v : values)
    KITE_CHECK(std::isfinite(v), "GaussianMixture: the codes contain a non-finite value");
  return values;
}

double squared_distance(const double* a, const double* b, int64_t d) {
  double s = 0;
  for (int64_t j = 0; j < d; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

// One uniform draw in (0, 1] from the generator (or the default one).
double uniform(Generator* generator) {
  double u;
  (generator ? *generator : default_generator()).fill_uniform(&u, 1);
  return u;
}

// Greedy k-means++ seeding (Arthur & Vassilvitskii 2007; sklearn's variant: 2 + log k
// candidates per step, keeping the one that lowers the potential most), then Lloyd
// iterations until the assignment stops changing. Returns the assignment and its inertia.
std::vector<int64_t> kmeans_once(const std::vector<double>& x, int64_t n, int64_t d, int64_t k,
                                 int64_t iterations, Generator* generator, double& inertia) {
  std::vector<double> centers(k * d);
  const int64_t first = std::min<int64_t>(n - 1, static_cast<int64_t>(uniform(generator) * n));
  std::copy_n(&x[first * d], d, &centers[0]);
  std::vector<double> nearest(n);
#pragma omp parallel for
  for (int64_t i = 0; i < n; ++i) nearest[i] = squared_distance(&x[i * d], &centers[0], d);
  const int trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
  std::vector<double> candidate_nearest(n), best_nearest(n);
  for (int64_t c = 1; c < k; ++c) {
    const double total = std::accumulate(nearest.begin(), nearest.end(), 0.0);
    double best_potential = std::numeric_limits<double>::infinity();
    int64_t best = 0;
    for (int t = 0; t < trials; ++t) {
      // Row i with probability nearest[i] / total (a uniform row if all points coincide).
      int64_t pick = std::min<int64_t>(n - 1, static_cast<int64_t>(uniform(generator) * n));
      if (total > 0) {
        const double target = uniform(generator) * total;
        double running = 0;
        for (int64_t i = 0; i < n; ++i) {
          running += nearest[i];
          if (running >= target && nearest[i] > 0) {
            pick = i;
            break;
          }
        }
      }
      double potential = 0;
#pragma omp parallel for reduction(+ : potential)
      for (int64_t i = 0; i < n; ++i) {
        candidate_nearest[i] = std::min(nearest[i], squared_distance(&x[i * d], &x[pick * d], d));
        potential += candidate_nearest[i];
      }
      if (potential < best_potential) {
        best_potential = potential, best = pick;
        best_nearest.swap(candidate_nearest);
      }
    }
    std::copy_n(&x[best * d], d, &centers[c * d]);
    nearest.swap(best_nearest);
  }
  std::vector<int64_t> assignment(n, -1);
  for (int64_t it = 0;; ++it) {
    int64_t changed = 0;
    inertia = 0;
#pragma omp parallel for reduction(+ : changed, inertia)
    for (int64_t i = 0; i < n; ++i) {
      double best = std::numeric_limits<double>::infinity();
      int64_t label = 0;
      for (int64_t c = 0; c < k; ++c) {
        const double dist = squared_distance(&x[i * d], &centers[c * d], d);
        if (dist < best) best = dist, label = c;
      }
      changed += label != assignment[i];
      assignment[i] = label;
      inertia += best;
    }
    if (changed == 0 || it >= iterations) break;
    std::vector<double> sums(k * d, 0.0);
    std::vector<int64_t> counts(k, 0);
    for (int64_t i = 0; i < n; ++i) {
      ++counts[assignment[i]];
      for (int64_t j = 0; j < d; ++j) sums[assignment[i] * d + j] += x[i * d + j];
    }
    for (int64_t c = 0; c < k; ++c)
      if (counts[c] > 0)  // an empty cluster keeps its center
        for (int64_t j = 0; j < d; ++j) centers[c * d + j] = sums[c * d + j] / counts[c];
  }
  return assignment;
}

// The best (lowest inertia) of `restarts` k-means runs.
std::vector<int64_t> kmeans(const std::vector<double>& x, int64_t n, int64_t d, int64_t k,
                            int64_t iterations, int64_t restarts, Generator* generator) {
  std::vector<int64_t> best;
  double best_inertia = std::numeric_limits<double>::infinity();
  for (int64_t r = 0; r < std::max<int64_t>(1, restarts); ++r) {
    double inertia = 0;
    std::vector<int64_t> assignment = kmeans_once(x, n, d, k, iterations, generator, inertia);
    if (inertia < best_inertia) best_inertia = inertia, best = std::move(assignment);
  }
  return best;
}

}  // namespace

void GaussianMixture::factorize() {
  const int64_t k = components(), d = dim_;
  cholesky_.assign(k * d * d, 0.0);
  log_norm_.assign(k, 0.0);
  for (int64_t c = 0; c < k; ++c) {
    std::vector<double> s(covariances_.begin() + c * d * d, covariances_.begin() + (c + 1) * d * d);
    KITE_CHECK(cholesky_in_place(s, d, &cholesky_[c * d * d]),
               "GaussianMixture: the covariance of component "
                   << c << " is not positive definite (raise the covariance floor)");
    double log_det = 0;
    for (int64_t j = 0; j < d; ++j) log_det += 2.0 * std::log(cholesky_[c * d * d + j * d + j]);
    log_norm_[c] = -0.5 * log_det - 0.5 * static_cast<double>(d) * kLog2Pi;
  }
}

std::vector<double> GaussianMixture::weighted_log_densities(const double* x, int64_t n) const {
  const int64_t k = components(), d = dim_;
  std::vector<double> out(n * k);
  std::vector<double> log_weights(k);
  for (int64_t c = 0; c < k; ++c)
    log_weights[c] =
        weights_[c] > 0 ? std::log(weights_[c]) : -std::numeric_limits<double>::infinity();
#pragma omp parallel
  {
    std::vector<double> y(d);
#pragma omp for
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t c = 0; c < k; ++c) {
        // Solve L y = x - mu (forward substitution); the Mahalanobis distance is |y|^2.
        const double* l = &cholesky_[c * d * d];
        const double* mu = &means_[c * d];
        double mahalanobis = 0;
        for (int64_t r = 0; r < d; ++r) {
          double v = x[i * d + r] - mu[r];
          for (int64_t s = 0; s < r; ++s) v -= l[r * d + s] * y[s];
          y[r] = v / l[r * d + r];
          mahalanobis += y[r] * y[r];
        }
        out[i * k + c] = log_weights[c] + log_norm_[c] - 0.5 * mahalanobis;
      }
    }
  }
  return out;
}

GaussianMixture GaussianMixture::fit(const Tensor& codes, const GmmOptions& options) {
  int64_t n = 0, d = 0;
  const std::vector<double> x = rows_as_double(codes, n, d);
  const int64_t k = options.components;
  KITE_CHECK(k >= 1 && n > k,
             "GaussianMixture: need more rows (" << n << ") than components (" << k << ")");
  KITE_CHECK(options.covariance_floor >= 0,
             "GaussianMixture: covariance floor must be >= 0, got " << options.covariance_floor);
  Generator generator(options.seed);

  // Responsibilities [n * K], first from the hard k-means assignment.
  std::vector<double> resp(n * k, 0.0);
  {
    const std::vector<int64_t> assignment =
        kmeans(x, n, d, k, options.kmeans_iterations, options.kmeans_restarts, &generator);
    for (int64_t i = 0; i < n; ++i) resp[i * k + assignment[i]] = 1.0;
  }

  GaussianMixture gmm;
  gmm.dim_ = d;
  gmm.weights_.assign(k, 0.0);
  gmm.means_.assign(k * d, 0.0);
  gmm.covariances_.assign(k * d * d, 0.0);

  auto m_step = [&]() {
    // A component with (almost) no responsibility keeps a tiny weight and the data's spread
    // around its old mean; sklearn guards the same division with 10 * eps.
    const double tiny = 10 * std::numeric_limits<double>::epsilon();
#pragma omp parallel for
    for (int64_t c = 0; c < k; ++c) {
      double nk = tiny;
      std::vector<double> mu(d, 0.0);
      for (int64_t i = 0; i < n; ++i) {
        const double r = resp[i * k + c];
        if (r == 0) continue;
        nk += r;
        for (int64_t j = 0; j < d; ++j) mu[j] += r * x[i * d + j];
      }
      for (int64_t j = 0; j < d; ++j) mu[j] /= nk;
      std::vector<double> s(d * d, 0.0), diff(d);
      for (int64_t i = 0; i < n; ++i) {
        const double r = resp[i * k + c];
        if (r == 0) continue;
        for (int64_t j = 0; j < d; ++j) diff[j] = x[i * d + j] - mu[j];
        for (int64_t a = 0; a < d; ++a) {
          const double ra = r * diff[a];
          for (int64_t b = 0; b <= a; ++b) s[a * d + b] += ra * diff[b];
        }
      }
      for (int64_t a = 0; a < d; ++a)
        for (int64_t b = 0; b <= a; ++b) {
          const double v = s[a * d + b] / nk + (a == b ? options.covariance_floor : 0.0);
          gmm.covariances_[c * d * d + a * d + b] = v;
          gmm.covariances_[c * d * d + b * d + a] = v;
        }
      std::copy(mu.begin(), mu.end(), gmm.means_.begin() + c * d);
      gmm.weights_[c] = nk / static_cast<double>(n);
    }
    const double total = std::accumulate(gmm.weights_.begin(), gmm.weights_.end(), 0.0);
    for (double& w : gmm.weights_) w /= total;
    gmm.factorize();
  };

  // E-step: responsibilities by log-sum-exp; returns the mean log-likelihood per row.
  auto e_step = [&]() {
    std::vector<double> log_p = gmm.weighted_log_densities(x.data(), n);
    double total = 0;
#pragma omp parallel for reduction(+ : total)
    for (int64_t i = 0; i < n; ++i) {
      double top = -std::numeric_limits<double>::infinity();
      for (int64_t c = 0; c < k; ++c) top = std::max(top, log_p[i * k + c]);
      double s = 0;
      for (int64_t c = 0; c < k; ++c) s += std::exp(log_p[i * k + c] - top);
      const double log_sum = top + std::log(s);
      for (int64_t c = 0; c < k; ++c) resp[i * k + c] = std::exp(log_p[i * k + c] - log_sum);
      total += log_sum;
    }
    return total / static_cast<double>(n);
  };

  m_step();
  double previous = e_step();
  gmm.history_.push_back(previous);
  for (int64_t it = 0; it < options.max_iterations; ++it) {
    m_step();
    const double current = e_step();
    gmm.history_.push_back(current);
    KITE_CHECK(std::isfinite(current), "GaussianMixture: the log-likelihood became "
                                           << current << " at EM iteration " << it + 1);
    if (std::abs(current - previous) < options.tolerance) {
      gmm.converged_ = true;
      break;
    }
    previous = current;
  }
  return gmm;
}

Tensor GaussianMixture::log_prob(const Tensor& x_in) const {
  int64_t n = 0, d = 0;
  const std::vector<double> x = rows_as_double(x_in, n, d);
  KITE_CHECK(d == dim_, "GaussianMixture: expected [n, " << dim_ << "], got " << describe(x_in));
  const int64_t k = components();
  const std::vector<double> log_p = weighted_log_densities(x.data(), n);
  std::vector<double> out(n);
#pragma omp parallel for
  for (int64_t i = 0; i < n; ++i) {
    double top = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < k; ++c) top = std::max(top, log_p[i * k + c]);
    double s = 0;
    for (int64_t c = 0; c < k; ++c) s += std::exp(log_p[i * k + c] - top);
    out[i] = top + std::log(s);
  }
  return Tensor::from_vector(out, {n});
}

double GaussianMixture::mean_log_likelihood(const Tensor& x) const {
  const std::vector<double> values = to_double_vector(log_prob(x));
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

Tensor GaussianMixture::sample(int64_t n, Generator* generator, DType dtype,
                               double temperature) const {
  KITE_CHECK(n >= 0, "GaussianMixture::sample: negative count " << n);
  KITE_CHECK(temperature > 0 && std::isfinite(temperature),
             "GaussianMixture::sample: temperature must be positive, got " << temperature);
  Generator& g = generator ? *generator : default_generator();
  const int64_t k = components(), d = dim_;
  std::vector<double> u(n), eps(n * d), out(n * d);
  g.fill_uniform(u.data(), n);
  g.fill_normal(eps.data(), n * d);
  for (double& e : eps) e *= temperature;
  std::vector<double> cumulative(k);
  std::partial_sum(weights_.begin(), weights_.end(), cumulative.begin());
  for (int64_t i = 0; i < n; ++i) {
    // u lies in (0, 1]; the last component takes any rounding remainder.
    const int64_t c = std::min<int64_t>(
        k - 1, std::lower_bound(cumulative.begin(), cumulative.end(), u[i] * cumulative.back()) -
                   cumulative.begin());
    const double* l = &cholesky_[c * d * d];
    for (int64_t r = 0; r < d; ++r) {
      double v = means_[c * d + r];
      for (int64_t s = 0; s <= r; ++s) v += l[r * d + s] * eps[i * d + s];
      out[i * d + r] = v;
    }
  }
  Tensor result = Tensor::from_vector(out, {n, d});
  if (dtype == DType::Float64) return result;
  std::vector<float> narrow(out.begin(), out.end());
  KITE_CHECK(dtype == DType::Float32, "GaussianMixture::sample: dtype must be float32 or float64");
  return Tensor::from_vector(narrow, {n, d});
}

std::map<std::string, Tensor> GaussianMixture::tensors() const {
  const int64_t k = components(), d = dim_;
  return {{"weights", Tensor::from_vector(weights_, {k})},
          {"means", Tensor::from_vector(means_, {k, d})},
          {"covariances", Tensor::from_vector(covariances_, {k, d, d})}};
}

GaussianMixture GaussianMixture::from_tensors(const std::map<std::string, Tensor>& tensors) {
  for (const char* name : {"weights", "means", "covariances"})
    KITE_CHECK(tensors.count(name), "GaussianMixture: missing tensor '" << name << "'");
  const Tensor& means = tensors.at("means");
  KITE_CHECK(means.dim() == 2, "GaussianMixture: means must be [K, d], got " << describe(means));
  return from_parameters(to_double_vector(tensors.at("weights")), to_double_vector(means),
                         to_double_vector(tensors.at("covariances")), means.size(1));
}

GaussianMixture GaussianMixture::from_parameters(std::vector<double> weights,
                                                 std::vector<double> means,
                                                 std::vector<double> covariances, int64_t dim) {
  const int64_t k = static_cast<int64_t>(weights.size());
  KITE_CHECK(k >= 1 && dim >= 1 && static_cast<int64_t>(means.size()) == k * dim &&
                 static_cast<int64_t>(covariances.size()) == k * dim * dim,
             "GaussianMixture: inconsistent sizes (" << k << " weights, " << means.size()
                                                     << " mean values, " << covariances.size()
                                                     << " covariance values, d = " << dim << ")");
  double total = 0;
  for (double w : weights) {
    KITE_CHECK(w >= 0 && std::isfinite(w), "GaussianMixture: bad weight " << w);
    total += w;
  }
  KITE_CHECK(total > 0, "GaussianMixture: the weights sum to zero");
  for (double& w : weights) w /= total;
  GaussianMixture gmm;
  gmm.dim_ = dim;
  gmm.weights_ = std::move(weights);
  gmm.means_ = std::move(means);
  gmm.covariances_ = std::move(covariances);
  gmm.factorize();
  return gmm;
}

}  // namespace kite::prior
