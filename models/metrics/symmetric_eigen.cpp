// Symmetric eigensolver: Householder tridiagonalisation + implicit QL; see symmetric_eigen.h.
//
// Storage: the working matrix is kept full (both triangles, which the blocked updates
// maintain) in row-major order, so that "column k" of the symmetric matrix is also row k
// and every inner loop runs over contiguous memory. Eigenvectors are kept as rows (the transpose of
// the textbook V), which turns each QL plane rotation into an update of two contiguous rows.
#include "models/metrics/symmetric_eigen.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <numeric>

#include "engine/error.h"
#include "models/metrics/double4.h"

namespace kite::metrics {

namespace {

using simd::double4;

// Below this trailing size the OpenMP fork/join costs more than the loop it splits.
constexpr std::size_t kParallelMinSize = 512;
// Reflectors per panel of the blocked tridiagonalisation, and per compact-WY block of the
// back-transformation: wide enough that their trailing updates run as matrix products.
constexpr std::size_t kPanelWidth = 32;
constexpr std::size_t kReflectorBlock = 64;

struct Tridiagonal {
  std::vector<double> diagonal;     // d[0..n-1]
  std::vector<double> subdiagonal;  // e[i] couples rows i and i+1; e[n-1] = 0
};

// Householder reflector for x (length m): H = I - tau v v^T with H x = beta e_1. On return
// x holds v (v[0] = 1 written out) and tau is returned. If x[1..] is already zero, no
// reflection is needed: tau = 0, beta = x[0], x is left alone.
double make_householder(double* x, std::size_t m, double& beta) {
  double largest = 0.0;
  for (std::size_t i = 1; i < m; ++i) largest = std::max(largest, std::abs(x[i]));
  if (largest == 0.0) {
    beta = x[0];
    return 0.0;
  }
  // The norm is taken on scaled values, so that huge or tiny entries do not overflow.
  double scaled_sq = 0.0;
  for (std::size_t i = 1; i < m; ++i) scaled_sq += (x[i] / largest) * (x[i] / largest);
  const double alpha = x[0];
  const double norm = std::hypot(alpha, largest * std::sqrt(scaled_sq));
  beta = alpha > 0 ? -norm : norm;  // opposite sign to alpha: no cancellation in alpha - beta
  const double inv_pivot = 1.0 / (alpha - beta);
  x[0] = 1.0;
  for (std::size_t i = 1; i < m; ++i) x[i] *= inv_pivot;
  return (beta - alpha) / beta;
}

// p = A v for the symmetric trailing block A = work[first.., first..] (size m), reading only
// its lower triangle: half the memory traffic of a full product, which is what this step
// costs. Row i contributes a dot product to p_i and an axpy to p_0..p_{i-1}. Rows are cut
// into kSymvChunks pieces of equal area, each with its own axpy accumulator, summed in a
// fixed order: the result does not depend on the number of threads.
constexpr std::size_t kSymvChunks = 8;

void lower_symmetric_product(const Matrix& work, std::size_t first, const double* v, std::size_t m,
                             double* p, std::vector<double>& scratch) {
  const std::size_t chunks = m >= kParallelMinSize ? kSymvChunks : 1;
  scratch.assign(chunks * m, 0.0);
  auto chunk_start = [&](std::size_t c) {
    return static_cast<std::size_t>(double(m) * std::sqrt(double(c) / double(chunks)));
  };
#pragma omp parallel for schedule(dynamic) if (chunks > 1)
  for (std::size_t c = 0; c < chunks; ++c) {
    double* q = scratch.data() + c * m;
    const std::size_t end = c + 1 == chunks ? m : chunk_start(c + 1);
    for (std::size_t i = chunk_start(c); i < end; ++i) {
      const double* a = work.row(first + i) + first;
      const double vi = v[i];
      const double4 vi4 = simd::broadcast4(vi);
      double4 acc = simd::broadcast4(0.0);
      std::size_t j = 0;
      for (; j + 4 <= i; j += 4) {
        const double4 aj = simd::load4(a + j);
        acc += aj * simd::load4(v + j);
        simd::store4(q + j, simd::load4(q + j) + aj * vi4);
      }
      double tail = 0.0;
      for (; j < i; ++j) {
        tail += a[j] * v[j];
        q[j] += a[j] * vi;
      }
      q[i] += simd::sum_lanes(acc) + tail + a[i] * vi;
    }
  }
  for (std::size_t i = 0; i < m; ++i) {
    double sum = 0.0;
    for (std::size_t c = 0; c < chunks; ++c) sum += scratch[c * m + i];
    p[i] = sum;
  }
}

// Reduces the full symmetric `work` to tridiagonal form T = Q^T A Q with reflectors
// H_k = I - tau_k v_k v_k^T (k = 0..n-3) acting on indices k+1..n-1; v_k is left in row k,
// columns k+1..n-1, for the back-transformation.
//
// Step k needs the current column k and the product (current trailing matrix) v_k, then
// applies A <- A - v w^T - w v^T with w = p - (tau/2)(p.v) v, p = tau A v. Done one step at
// a time, that update streams the whole trailing matrix through memory twice per step.
// Blocked instead (as LAPACK's sytrd): within a panel of kPanelWidth steps the updates are
// kept as the vectors v_q, w_q and folded into the few entries each step reads; after the
// panel, one rank-2*kPanelWidth matrix product applies them all to the trailing matrix.
Tridiagonal tridiagonalize(Matrix& work, std::vector<double>& tau) {
  const std::size_t n = work.rows();
  Tridiagonal t{std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)};
  tau.assign(n, 0.0);
  const std::size_t steps = n >= 2 ? n - 2 : 0;
  Matrix vs(kPanelWidth, n), ws(kPanelWidth, n);  // the panel's v_q, w_q as full-length rows
  std::vector<double> p(n), v_dot_w(kPanelWidth), v_dot_v(kPanelWidth), scratch;
  for (std::size_t k0 = 0; k0 < steps; k0 += kPanelWidth) {
    const std::size_t panel = std::min(kPanelWidth, steps - k0);
    std::fill(vs.data(), vs.data() + kPanelWidth * n, 0.0);
    std::fill(ws.data(), ws.data() + kPanelWidth * n, 0.0);
    for (std::size_t j = 0; j < panel; ++j) {
      const std::size_t k = k0 + j;
      const std::size_t m = n - k - 1;
      // Current column k (= row k): stored row minus the panel's pending updates.
      double* x = work.row(k);
      double diagonal = x[k];
      for (std::size_t q = 0; q < j; ++q) diagonal -= 2.0 * vs(q, k) * ws(q, k);
      for (std::size_t q = 0; q < j; ++q) {
        const double vk = vs(q, k), wk = ws(q, k);
        const double* vq = vs.row(q);
        const double* wq = ws.row(q);
        for (std::size_t i = k + 1; i < n; ++i) x[i] -= vq[i] * wk + wq[i] * vk;
      }
      t.diagonal[k] = diagonal;
      double beta = 0.0;
      tau[k] = make_householder(x + k + 1, m, beta);
      t.subdiagonal[k] = beta;
      if (tau[k] == 0.0) continue;  // H_k = I: v_j, w_j stay zero
      const double* v = x + k + 1;
      std::copy(v, v + m, vs.row(j) + k + 1);

      // p = tau (A_stored - sum_q v_q w_q^T + w_q v_q^T) v on indices k+1..n-1.
      lower_symmetric_product(work, k + 1, v, m, p.data(), scratch);
      for (std::size_t q = 0; q < j; ++q) {
        v_dot_w[q] = simd::dot(ws.row(q) + k + 1, v, m);
        v_dot_v[q] = simd::dot(vs.row(q) + k + 1, v, m);
      }
      for (std::size_t q = 0; q < j; ++q) {
        const double* vq = vs.row(q) + k + 1;
        const double* wq = ws.row(q) + k + 1;
        for (std::size_t i = 0; i < m; ++i) p[i] -= vq[i] * v_dot_w[q] + wq[i] * v_dot_v[q];
      }
      for (std::size_t i = 0; i < m; ++i) p[i] *= tau[k];
      const double half_tau_pv = 0.5 * tau[k] * simd::dot(p.data(), v, m);
      double* w = ws.row(j) + k + 1;
      for (std::size_t i = 0; i < m; ++i) w[i] = p[i] - half_tau_pv * v[i];
    }

    // Trailing matrix (indices >= k0 + panel) -= V W^T + W V^T = [V W] [W V]^T.
    if (std::all_of(tau.begin() + k0, tau.begin() + k0 + panel, [](double x) { return x == 0; }))
      continue;  // no reflections in this panel (e.g. a diagonal matrix): nothing to apply
    const std::size_t k_end = k0 + panel;
    const std::size_t trailing = n - k_end;
    const std::size_t depth = 2 * panel;
    std::vector<double> left(trailing * depth), right(trailing * depth);
    for (std::size_t i = 0; i < trailing; ++i)
      for (std::size_t q = 0; q < panel; ++q) {
        left[i * depth + q] = vs(q, k_end + i);
        left[i * depth + panel + q] = ws(q, k_end + i);
        right[i * depth + q] = ws(q, k_end + i);
        right[i * depth + panel + q] = vs(q, k_end + i);
      }
    multiply_transposed_add(trailing, trailing, depth, -1.0, left.data(), depth, right.data(),
                            depth, work.row(k_end) + k_end, n);
  }
  if (n >= 2) {
    t.diagonal[n - 2] = work(n - 2, n - 2);
    t.subdiagonal[n - 2] = work(n - 1, n - 2);
  }
  if (n >= 1) t.diagonal[n - 1] = work(n - 1, n - 1);
  return t;
}

// Q^T = H_{n-3} ... H_1 H_0, accumulated from the right starting with the last reflectors,
// so that each step only touches the trailing block where they act. Reflectors are taken
// kReflectorBlock at a time in compact WY form, H_k0 ... H_k1-1 = I - V T V^T (T upper
// triangular, LAPACK's larft), which turns the update P <- P (I - V T^T V^T) into two
// matrix products instead of one pass over P per reflector.
Matrix reflectors_transposed(const Matrix& work, const std::vector<double>& tau) {
  const std::size_t n = work.rows();
  Matrix qt = Matrix::identity(n);
  const std::size_t steps = n >= 2 ? n - 2 : 0;
  const std::size_t blocks = (steps + kReflectorBlock - 1) / kReflectorBlock;
  for (std::size_t b = blocks; b-- > 0;) {
    const std::size_t k0 = b * kReflectorBlock;
    const std::size_t count = std::min(kReflectorBlock, steps - k0);
    const std::size_t m = n - k0 - 1;  // the block acts on indices k0+1..n-1
    if (std::all_of(tau.begin() + k0, tau.begin() + k0 + count, [](double x) { return x == 0; }))
      continue;  // identity block
    // V^T: row j is v_{k0+j} on indices k0+1..n-1 (zeros, then the 1, then the rest).
    Matrix vt(count, m);
    for (std::size_t j = 0; j < count; ++j) {
      const std::size_t k = k0 + j;
      if (tau[k] != 0.0) std::copy(work.row(k) + k + 1, work.row(k) + n, vt.row(j) + j);
    }
    Matrix tri(count, count);
    for (std::size_t j = 0; j < count; ++j) {
      const double tau_j = tau[k0 + j];
      tri(j, j) = tau_j;
      if (tau_j == 0.0) continue;
      std::vector<double> overlap(j);
      for (std::size_t l = 0; l < j; ++l)
        overlap[l] = simd::dot(vt.row(l) + j, vt.row(j) + j, m - j);
      for (std::size_t i = 0; i < j; ++i) {
        double sum = 0.0;
        for (std::size_t l = i; l < j; ++l) sum += tri(i, l) * overlap[l];
        tri(i, j) = -tau_j * sum;
      }
    }
    double* block = qt.row(k0 + 1) + k0 + 1;
    Matrix pv(m, count);  // P V
    multiply_transposed_add(m, count, m, 1.0, block, n, vt.data(), m, pv.data(), count);
    const Matrix pvt = multiply_transposed(pv, tri);  // P V T^T
    const Matrix v = transpose(vt);
    multiply_transposed_add(m, m, count, -1.0, pvt.data(), count, v.data(), count, block, n);
  }
  return qt;
}

// The eigenvector rows during the QL phase, stored with an odd number of cache lines per
// row. At n = 2048 plain rows are 16 KiB apart, so the same columns of all rows map to a
// handful of cache sets, and a 32-column block of every row (512 KiB, meant to stay in L2)
// would keep evicting itself.
class PaddedRows {
 public:
  explicit PaddedRows(const Matrix& m) : rows_(m.rows()), cols_(m.cols()) {
    stride_ = (cols_ + 7) / 8 * 8;
    if ((stride_ / 8) % 2 == 0) stride_ += 8;
    values_.resize(rows_ * stride_);
    for (std::size_t r = 0; r < rows_; ++r) std::copy(m.row(r), m.row(r) + cols_, row(r));
  }
  std::size_t cols() const { return cols_; }
  double* row(std::size_t r) { return values_.data() + r * stride_; }
  const double* row(std::size_t r) const { return values_.data() + r * stride_; }

 private:
  std::size_t rows_, cols_, stride_;
  std::vector<double> values_;
};

// Plane rotations of the QL sweeps, recorded so that they can be applied to the
// eigenvector rows later, in cache-sized column blocks and in parallel, instead of one at a
// time across whole rows. Rotation (i, c, s) does
//   row i+1 <- s row_i + c row_{i+1},   row i <- c row_i - s row_{i+1}.
// A QL sweep produces rotations with indices m-1, m-2, ..., l: a "chain" in which each
// rotation's new row i is the next one's row i+1. Keeping that row in registers along the
// chain halves the memory traffic: one load and one store per row and rotation.
class RotationLog {
 public:
  explicit RotationLog(PaddedRows* rows) : rows_(rows) {}

  void record(std::size_t i, double c, double s) {
    if (rows_ == nullptr) return;
    if (index_.empty() || index_.back() != i + 1) chain_starts_.push_back(index_.size());
    index_.push_back(static_cast<std::uint32_t>(i));
    cosine_.push_back(c);
    sine_.push_back(s);
    if (index_.size() >= kCapacity) flush();
  }

  void flush() {
    if (rows_ == nullptr || index_.empty()) return;
    chain_starts_.push_back(index_.size());  // sentinel: end of the last chain
    const std::size_t width = rows_->cols();
    const std::size_t blocks = (width + kBlockWidth - 1) / kBlockWidth;
    const bool parallel = blocks > 1 && index_.size() * width > (std::size_t{1} << 22);
#pragma omp parallel for schedule(dynamic) if (parallel)
    for (std::size_t b = 0; b < blocks; ++b) {
      const std::size_t c0 = b * kBlockWidth;
      const std::size_t c1 = std::min(c0 + kBlockWidth, width);
      for (std::size_t chain = 0; chain + 1 < chain_starts_.size(); ++chain) {
        apply_chain(chain_starts_[chain], chain_starts_[chain + 1], c0, c1);
      }
    }
    index_.clear();
    cosine_.clear();
    sine_.clear();
    chain_starts_.clear();
  }

 private:
  static constexpr std::size_t kCapacity = std::size_t{1} << 15;
  static constexpr int kLanes = 8;  // double4 columns carried through a chain at once
  static constexpr std::size_t kBlockWidth = 4 * kLanes;

  // Rotations [first, last) of one chain, on columns [c0, c1). Columns are independent, so
  // they go kLanes double4 at a time (independent dependency chains for the FMA units),
  // then one double4, then one scalar at a time.
  void apply_chain(std::size_t first, std::size_t last, std::size_t c0, std::size_t c1) const {
    std::size_t j = c0;
    for (; j + 4 * kLanes <= c1; j += 4 * kLanes) apply_chain_vectors<kLanes>(first, last, j);
    for (; j + 4 <= c1; j += 4) apply_chain_vectors<1>(first, last, j);
    for (; j < c1; ++j) apply_chain_scalar(first, last, j);
  }

  template <int LANES>
  void apply_chain_vectors(std::size_t first, std::size_t last, std::size_t col) const {
    double4 carried[LANES];  // current contents of row index_[r] + 1
    const double* top = rows_->row(index_[first] + 1) + col;
    for (int v = 0; v < LANES; ++v) carried[v] = simd::load4(top + 4 * v);
    for (std::size_t r = first; r < last; ++r) {
      double* lo = rows_->row(index_[r]) + col;
      double* hi = rows_->row(index_[r] + 1) + col;
      const double4 c = simd::broadcast4(cosine_[r]);
      const double4 s = simd::broadcast4(sine_[r]);
      for (int v = 0; v < LANES; ++v) {
        const double4 a = simd::load4(lo + 4 * v);
        simd::store4(hi + 4 * v, s * a + c * carried[v]);
        carried[v] = c * a - s * carried[v];
      }
    }
    double* bottom = rows_->row(index_[last - 1]) + col;
    for (int v = 0; v < LANES; ++v) simd::store4(bottom + 4 * v, carried[v]);
  }

  void apply_chain_scalar(std::size_t first, std::size_t last, std::size_t col) const {
    double carried = rows_->row(index_[first] + 1)[col];
    for (std::size_t r = first; r < last; ++r) {
      const double a = rows_->row(index_[r])[col];
      rows_->row(index_[r] + 1)[col] = sine_[r] * a + cosine_[r] * carried;
      carried = cosine_[r] * a - sine_[r] * carried;
    }
    rows_->row(index_[last - 1])[col] = carried;
  }

  PaddedRows* rows_;
  std::vector<std::uint32_t> index_;
  std::vector<double> cosine_;
  std::vector<double> sine_;
  std::vector<std::size_t> chain_starts_;
};

// Implicit QL with shifts on (d, e); the eigenvalues end up in d (unsorted). Each sweep
// chases a bulge from row m up to row l with plane rotations, logged for the vectors.
void tridiagonal_ql(std::vector<double>& d, std::vector<double>& e, RotationLog& log) {
  const std::size_t n = d.size();
  constexpr int kMaxSweepsPerEigenvalue = 60;
  // ||T|| (max row sum): an off-diagonal below eps ||T|| is negligible however small its
  // diagonal neighbours are. Without this norm-wise test, a matrix with many near-zero
  // eigenvalues (a 2048-d covariance of 10 samples has rank 9) never splits and QL gives up.
  double norm = 0.0;
  for (std::size_t i = 0; i < n; ++i)
    norm = std::max(norm, std::abs(d[i]) + (i + 1 < n ? std::abs(e[i]) : 0.0));
  for (std::size_t l = 0; l < n; ++l) {
    for (int sweep = 0;; ++sweep) {
      // The first negligible off-diagonal at or below l splits off the block l..m.
      std::size_t m = l;
      for (; m + 1 < n; ++m) {
        const double scale = std::abs(d[m]) + std::abs(d[m + 1]);
        if (std::abs(e[m]) <= DBL_EPSILON * scale || std::abs(e[m]) <= DBL_EPSILON * norm) break;
      }
      if (m == l) break;  // d[l] has converged
      KITE_CHECK(sweep < kMaxSweepsPerEigenvalue,
                 "symmetric_eigen: QL iteration did not converge "
                 "for eigenvalue "
                     << l << " of " << n << " after " << kMaxSweepsPerEigenvalue << " sweeps");
      // Shift: the eigenvalue of the leading 2x2 block of l..m closer to d[l].
      double g = (d[l + 1] - d[l]) / (2.0 * e[l]);
      double r = std::hypot(g, 1.0);
      g = d[m] - d[l] + e[l] / (g + std::copysign(r, g));
      double s = 1.0;
      double c = 1.0;
      double p = 0.0;
      bool underflow = false;
      for (std::size_t i = m; i-- > l;) {
        const double f = s * e[i];
        const double b = c * e[i];
        r = std::hypot(f, g);
        e[i + 1] = r;
        if (r == 0.0) {  // the bulge vanished: deflate at i+1 and restart from l
          d[i + 1] -= p;
          e[m] = 0.0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2.0 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        log.record(i, c, s);
      }
      if (underflow) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0.0;
    }
  }
  log.flush();
}

// Copies the lower triangle of `a` into a full symmetric matrix, checking the input.
Matrix full_symmetric_copy(const Matrix& a) {
  KITE_CHECK(a.is_square(),
             "symmetric_eigen: matrix must be square, got " << a.rows() << "x" << a.cols());
  const std::size_t n = a.rows();
  KITE_CHECK(n < (std::size_t{1} << 31), "symmetric_eigen: matrix too large (" << n << ")");
  Matrix full(n, n);
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t c = 0; c <= r; ++c) {
      const double value = a(r, c);
      KITE_CHECK(std::isfinite(value),
                 "symmetric_eigen: non-finite entry " << value << " at (" << r << ", " << c << ")");
      full(r, c) = value;
      full(c, r) = value;
    }
  }
  return full;
}

}  // namespace

SymmetricEigen symmetric_eigen(const Matrix& a, bool want_vectors) {
  Matrix work = full_symmetric_copy(a);
  const std::size_t n = work.rows();
  std::vector<double> tau;
  Tridiagonal t = tridiagonalize(work, tau);

  // Eigenvectors as rows, starting from Q^T; the QL rotations turn them into V^T.
  PaddedRows rows(want_vectors ? reflectors_transposed(work, tau) : Matrix());
  work = Matrix();  // release before the QL phase: at n = 2048 this is 32 MiB
  RotationLog log(want_vectors ? &rows : nullptr);
  tridiagonal_ql(t.diagonal, t.subdiagonal, log);

  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return t.diagonal[x] < t.diagonal[y]; });
  SymmetricEigen result;
  result.values.resize(n);
  for (std::size_t i = 0; i < n; ++i) result.values[i] = t.diagonal[order[i]];
  if (want_vectors) {
    result.vectors = Matrix(n, n);
    for (std::size_t i = 0; i < n; ++i)
      std::copy(rows.row(order[i]), rows.row(order[i]) + n, result.vectors.row(i));
  }
  return result;
}

std::vector<double> symmetric_eigenvalues(const Matrix& a) {
  return symmetric_eigen(a, /*want_vectors=*/false).values;
}

Matrix psd_sqrt(const Matrix& a) {
  const SymmetricEigen eig = symmetric_eigen(a, /*want_vectors=*/true);
  const std::size_t n = eig.values.size();
  // With E = V^T (eigenvectors as rows): V diag(sqrt l) V^T = E^T (diag(sqrt l) E).
  Matrix scaled(n, n);
  for (std::size_t i = 0; i < n; ++i) {
    const double root = std::sqrt(std::max(eig.values[i], 0.0));
    for (std::size_t j = 0; j < n; ++j) scaled(i, j) = root * eig.vectors(i, j);
  }
  return symmetrize(multiply_transposed(transpose(eig.vectors), transpose(scaled)));
}

}  // namespace kite::metrics
