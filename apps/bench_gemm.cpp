// bench_gemm: GFLOP/s of the engine's CPU GEMM (kite::cpu::gemm), side by side with OpenBLAS;
// with --device cuda, the engine's matmul on a GPU side by side with a bare cuBLAS call.
//
// OpenBLAS is optional and never linked: it is dlopen'ed at run time ("libopenblas.so.0", then
// "libopenblas.so") and only used as a yardstick and as a reference for the results. Without
// it the table shows "-" and results are checked against a naive sum on sampled entries.
//
// On a GPU the engine's side is the public op, kite::matmul, as a model calls it (dispatch,
// the output from the caching allocator, cuBLAS through cuda/blas.h: for one matrix, a
// cublasLt plan kept per shape, cuda/gemm_plan.h); the yardstick is cublasSgemm / cublasDgemm
// called directly on the same operands, stream and math mode (TF32 off unless --tf32). The
// CUDA back end's target is the op within 5% of the bare call. The "wrapper" column is
// cuda/blas.h's GEMM alone (the kept plan, without the op), so kite - wrapper is what the op
// adds and wrapper - cuBLAS what the kept plan saves.
//
// Usage: bench_gemm [--threads 1,2] [--sizes 256,1024,64x1024x1024] [--dtype f32|f64|both]
//                   [--trans nn,nt,tn,tt] [--reps N] [--stat best|median] [--clock wall|cpu]
//                   [--kernel auto|avx512|avx2|generic] [--device cpu|cuda[:N]] [--tf32]
// A size is N (square) or MxNxK (C is MxN, the depth is K). Output is a markdown table.
//
// Note: OpenBLAS honours OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE from the environment, which can
// pin it to an older, slower kernel; the header prints them so that runs can be compared.
#include <dlfcn.h>
#include <immintrin.h>
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "apps/common/device_timer.h"
#include "apps/common/training.h"
#include "engine/error.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/gemm_kernel.h"
#include "ops/factory.h"
#include "ops/linalg.h"
#include "ops/shape_ops.h"

#if defined(KITE_WITH_CUDA)
#include <cublas_v2.h>

#include "cuda/blas.h"
#include "cuda/check.h"
#include "cuda/stream.h"
#endif

namespace {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// OpenBLAS, loaded at run time.

class OpenBlas {
 public:
  // cblas enums (cblas.h): CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112.
  static constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
  using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int,
                         float, float*, int);
  using Dgemm = void (*)(int, int, int, int, int, int, double, const double*, int, const double*,
                         int, double, double*, int);

  OpenBlas() {
    for (const char* name : {"libopenblas.so.0", "libopenblas.so"}) {
      handle_ = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (handle_ != nullptr) break;
    }
    if (handle_ == nullptr) return;
    sgemm_ = reinterpret_cast<Sgemm>(dlsym(handle_, "cblas_sgemm"));
    dgemm_ = reinterpret_cast<Dgemm>(dlsym(handle_, "cblas_dgemm"));
    set_threads_ = reinterpret_cast<void (*)(int)>(dlsym(handle_, "openblas_set_num_threads"));
    corename_ = reinterpret_cast<char* (*)()>(dlsym(handle_, "openblas_get_corename"));
    config_ = reinterpret_cast<char* (*)()>(dlsym(handle_, "openblas_get_config"));
    if (sgemm_ == nullptr || dgemm_ == nullptr) {
      dlclose(handle_);
      handle_ = nullptr;
    }
  }
  ~OpenBlas() {
    if (handle_ != nullptr) dlclose(handle_);
  }
  OpenBlas(const OpenBlas&) = delete;
  OpenBlas& operator=(const OpenBlas&) = delete;

  bool found() const { return handle_ != nullptr; }
  std::string describe() const {
    if (!found()) return "not found";
    std::string text = config_ != nullptr ? config_() : "loaded";
    if (corename_ != nullptr) text += std::string(", core ") + corename_();
    return text;
  }
  void set_threads(int threads) const {
    if (set_threads_ != nullptr) set_threads_(threads);
  }
  void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
            const float* b, int ldb, float beta, float* c, int ldc) const {
    sgemm_(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, m, n, k, alpha, a, lda, b,
           ldb, beta, c, ldc);
  }
  void gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda,
            const double* b, int ldb, double beta, double* c, int ldc) const {
    dgemm_(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, m, n, k, alpha, a, lda, b,
           ldb, beta, c, ldc);
  }

 private:
  void* handle_ = nullptr;
  Sgemm sgemm_ = nullptr;
  Dgemm dgemm_ = nullptr;
  void (*set_threads_)(int) = nullptr;
  char* (*corename_)() = nullptr;
  char* (*config_)() = nullptr;
};

// Seconds on the wall clock, or on the calling thread's CPU clock. The CPU clock does not run
// while the thread waits for a core, so on a busy machine it measures what the code costs
// rather than how long the scheduler made it wait; it only makes sense for one thread.
double now_seconds(bool cpu_clock) {
  if (!cpu_clock) return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// ---------------------------------------------------------------------------------------------
// Measured FMA peak of one core: independent FMA chains, no memory traffic. The theoretical
// peak is cores x FMA units x vector lanes x 2 flops x clock; this measures the product of the
// last four at the clock the core actually runs at.

__attribute__((target("avx2,fma"))) double fma_loop_avx2(int64_t iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(float(i));
  const __m256 mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-6f);
  for (int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], mul, add);
  float sink[8], sum = 0;
  for (int i = 0; i < 12; ++i) {
    _mm256_storeu_ps(sink, acc[i]);
    for (float v : sink) sum += v;
  }
  return sum;
}

__attribute__((target("avx512f"))) double fma_loop_avx512(int64_t iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512 mul = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(1e-6f);
  for (int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], mul, add);
  float sum = 0;
  float sink[16];
  for (int i = 0; i < 12; ++i) {
    _mm512_storeu_ps(sink, acc[i]);
    for (float v : sink) sum += v;
  }
  return sum;
}

// GFLOP/s of one core running FMAs back to back (float32): the best of several short trials
// timed on the thread's CPU clock, so that other work on the machine does not lower it.
double measured_core_peak_f32() {
  const int64_t iters = 2'000'000;
  double best = 0, sink = 0;
  auto trial = [&](auto&& loop, int lanes) {
    const double t0 = now_seconds(true);
    sink += loop(iters);
    best = std::max(best, iters * 12.0 * lanes * 2 / (now_seconds(true) - t0) * 1e-9);
  };
  for (int round = 0; round < 20; ++round) {
    if (kite::cpu::cpu_has_avx2()) trial(fma_loop_avx2, 8);
    if (kite::cpu::cpu_has_avx512()) trial(fma_loop_avx512, 16);
  }
  if (sink == 12345.0) std::printf(" ");  // keeps the loops from being optimised away
  return best;
}

// ---------------------------------------------------------------------------------------------
// Benchmark cases.

struct Shape {
  int64_t m, n, k;
};

Shape parse_shape(const std::string& text) {
  std::vector<int64_t> dims;
  size_t start = 0;
  while (true) {
    const size_t end = text.find('x', start);
    const std::string part = text.substr(start, end == std::string::npos ? end : end - start);
    KITE_CHECK(!part.empty() && part.size() <= 9 &&
                   part.find_first_not_of("0123456789") == std::string::npos,
               "bench_gemm: bad size '" << text << "' (expected N or MxNxK)");
    dims.push_back(std::stoll(part));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  KITE_CHECK(dims.size() == 1 || dims.size() == 3,
             "bench_gemm: bad size '" << text << "' (expected N or MxNxK)");
  return dims.size() == 1 ? Shape{dims[0], dims[0], dims[0]} : Shape{dims[0], dims[1], dims[2]};
}

struct Row {
  std::string dtype, trans;
  int threads;
  Shape shape;
  double kite_gflops, blas_gflops;  // blas_gflops < 0 when OpenBLAS is absent
  double err_vs_blas;               // max |kite - OpenBLAS| over all of C (< 0: absent)
  double err_vs_naive;              // max |kite - naive| over sampled entries
  double blas_err_vs_naive;         // same for OpenBLAS (< 0: absent)
};

template <class T>
std::vector<T> random_matrix(int64_t count, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> data(static_cast<size_t>(count));
  for (T& x : data) x = static_cast<T>(dist(rng));
  return data;
}

// Largest |c(i, j) - sum_p op(A)(i, p) op(B)(p, j)| over a few hundred random entries, the sum
// taken in long double.
template <class T>
double sampled_error(bool ta, bool tb, Shape s, const T* a, int64_t lda, const T* b, int64_t ldb,
                     const T* c, int64_t ldc, std::mt19937_64& rng) {
  if (s.m == 0 || s.n == 0) return 0;
  std::uniform_int_distribution<int64_t> pick_i(0, s.m - 1), pick_j(0, s.n - 1);
  double worst = 0;
  for (int sample = 0; sample < 256; ++sample) {
    const int64_t i = pick_i(rng), j = pick_j(rng);
    long double sum = 0;
    for (int64_t p = 0; p < s.k; ++p) {
      const T av = ta ? a[p * lda + i] : a[i * lda + p];
      const T bv = tb ? b[j * ldb + p] : b[p * ldb + j];
      sum += static_cast<long double>(av) * bv;
    }
    worst = std::max(worst, double(std::fabs(static_cast<long double>(c[i * ldc + j]) - sum)));
  }
  return worst;
}

// How each case is timed (see the flags in run()).
struct TimingSettings {
  int reps = 0;               // timed calls per batch; 0: enough for ~0.1 s
  std::string stat = "best";  // "best" or "median" of all timed calls
  bool cpu_clock = false;     // time with the calling thread's CPU clock instead of the wall
};

// "best": the fastest call, the one least disturbed by other work on the machine;
// "median": the typical call.
double summarize(std::vector<double> times, const std::string& stat) {
  std::sort(times.begin(), times.end());
  return stat == "best" ? times.front() : times[times.size() / 2];
}

template <class T>
Row bench_case(const OpenBlas& blas, const kite::cpu::GemmKernel<T>& kernel, bool ta, bool tb,
               int threads, Shape s, const TimingSettings& timing) {
  std::mt19937_64 rng(42);
  const int64_t lda = ta ? s.m : s.k, ldb = tb ? s.k : s.n, ldc = s.n;
  const std::vector<T> a = random_matrix<T>(s.m * s.k, rng);
  const std::vector<T> b = random_matrix<T>(s.k * s.n, rng);
  std::vector<T> c_kite(static_cast<size_t>(s.m * s.n)), c_blas(c_kite.size());

  omp_set_num_threads(threads);
  blas.set_threads(threads);
  auto run_kite = [&] {
    kite::cpu::gemm_with_kernel<T>(kernel, ta, tb, s.m, s.n, s.k, T(1), a.data(), lda, b.data(),
                                   ldb, T(0), c_kite.data(), ldc);
  };
  auto run_blas = [&] {
    blas.gemm(ta, tb, int(s.m), int(s.n), int(s.k), T(1), a.data(), int(lda), b.data(), int(ldb),
              T(0), c_blas.data(), int(ldc));
  };

  // Each library runs its calls in batches: a warm-up call (caches, thread pools, page
  // faults), then enough calls for ~0.1 s. Batches of the two libraries alternate for three
  // rounds so that a busy spell of the machine hits both alike. Between batches we pause:
  // both thread pools keep spinning for a while after their last call (OpenBLAS for ~0.1 s),
  // and on a small machine those spinning threads would steal the cores from the other one.
  constexpr int kRounds = 3;
  auto time_batch = [&](auto&& call, std::vector<double>& times) {
    double t0 = now_seconds(timing.cpu_clock);
    call();
    const double first = std::max(now_seconds(timing.cpu_clock) - t0, 1e-7);
    const int reps = timing.reps > 0 ? timing.reps : std::clamp(int(0.1 / first), 2, 1000);
    for (int r = 0; r < reps; ++r) {
      t0 = now_seconds(timing.cpu_clock);
      call();
      times.push_back(now_seconds(timing.cpu_clock) - t0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  };
  std::vector<double> kite_times, blas_times;
  for (int round = 0; round < kRounds; ++round) {
    time_batch(run_kite, kite_times);
    if (blas.found()) time_batch(run_blas, blas_times);
  }
  const double kite_seconds = summarize(kite_times, timing.stat);
  const double blas_seconds = blas.found() ? summarize(blas_times, timing.stat) : 0.0;

  const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
  Row row{sizeof(T) == 4 ? "f32" : "f64",
          std::string(ta ? "t" : "n") + (tb ? "t" : "n"),
          threads,
          s,
          flops / kite_seconds * 1e-9,
          -1,
          -1,
          0,
          -1};
  std::mt19937_64 sample_rng(7);
  row.err_vs_naive =
      sampled_error(ta, tb, s, a.data(), lda, b.data(), ldb, c_kite.data(), ldc, sample_rng);
  if (blas.found()) {
    row.blas_gflops = flops / blas_seconds * 1e-9;
    row.err_vs_blas = 0;
    for (size_t i = 0; i < c_kite.size(); ++i)
      row.err_vs_blas = std::max(row.err_vs_blas, double(std::fabs(c_kite[i] - c_blas[i])));
    std::mt19937_64 blas_sample_rng(7);
    row.blas_err_vs_naive =
        sampled_error(ta, tb, s, a.data(), lda, b.data(), ldb, c_blas.data(), ldc, blas_sample_rng);
  }
  return row;
}

template <class T>
const kite::cpu::GemmKernel<T>& find_kernel(const std::string& name) {
  const auto& kernels = kite::cpu::gemm_kernels<T>();
  if (name == "auto") return kernels.front();
  for (const auto& kernel : kernels)
    if (name == kernel.name) return kernel;
  KITE_FAIL("bench_gemm: kernel '" << name << "' is not available on this CPU");
}

std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

void print_row(const Row& r, double core_peak) {
  const std::string shape =
      std::to_string(r.shape.m) + "x" + std::to_string(r.shape.n) + "x" + std::to_string(r.shape.k);
  const bool blas = r.blas_gflops >= 0;
  const bool has_ratio = blas && r.kite_gflops > 0 && r.blas_gflops > 0;  // not for empty shapes
  const double peak = core_peak * r.threads * (r.dtype == "f64" ? 0.5 : 1.0);
  std::cout << "| " << r.dtype << " | " << r.trans << " | " << r.threads << " | " << shape << " | "
            << fmt("%.1f", r.kite_gflops) << " | " << fmt("%.0f%%", 100 * r.kite_gflops / peak)
            << " | " << (blas ? fmt("%.1f", r.blas_gflops) : "-") << " | "
            << (has_ratio ? fmt("%.2f", r.kite_gflops / r.blas_gflops) : "-") << " | "
            << (blas ? fmt("%.1e", r.err_vs_blas) : "-") << " | " << fmt("%.1e", r.err_vs_naive)
            << " | " << (blas ? fmt("%.1e", r.blas_err_vs_naive) : "-") << " |\n";
}

#if defined(KITE_WITH_CUDA)
// ---------------------------------------------------------------------------------------------
// --device cuda: kite::matmul next to a bare cuBLAS call.

// A cuBLAS handle of our own, used the way a program using cuBLAS directly would.
class BareCublas {
 public:
  BareCublas() { CUBLAS_CHECK(cublasCreate(&handle_)); }
  ~BareCublas() { cublasDestroy(handle_); }
  BareCublas(const BareCublas&) = delete;
  BareCublas& operator=(const BareCublas&) = delete;

  // Row-major C (m x n) = op(A) op(B), as the column-major C^T = op(B)^T op(A)^T (cuda/blas.h).
  template <class T>
  void gemm(bool ta, bool tb, int m, int n, int k, const T* a, const T* b, T* c, bool tf32) {
    // Stream and math mode are set once (as kite does), so that the comparison is kite's
    // op against the GEMM call alone.
    if (!configured_) {
      CUBLAS_CHECK(cublasSetStream(handle_, kite::cuda::current_stream()));
      CUBLAS_CHECK(
          cublasSetMathMode(handle_, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
      configured_ = true;
    }
    const T one = 1, zero = 0;
    const int lda = ta ? m : k, ldb = tb ? k : n;
    const cublasOperation_t op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    if constexpr (std::is_same_v<T, float>)
      CUBLAS_CHECK(cublasSgemm(handle_, op_b, op_a, n, m, k, &one, b, ldb, a, lda, &zero, c, n));
    else
      CUBLAS_CHECK(cublasDgemm(handle_, op_b, op_a, n, m, k, &one, b, ldb, a, lda, &zero, c, n));
  }

 private:
  cublasHandle_t handle_ = nullptr;
  bool configured_ = false;  // one stream and one math mode per run
};

struct CudaRow {
  std::string dtype, trans;
  Shape shape;
  double kite_ms, cublas_ms;
  double wrapper_ms;                    // kite's cuBLAS wrapper without the op
  double kite_host_us, cublas_host_us;  // host time to issue one call
  double err_vs_cublas, err_vs_naive;
};

// Each side runs in batches of `reps` calls timed with CUDA events (the mean call of a batch);
// batches alternate for three rounds, and each side keeps its fastest (--stat best) or median
// batch.
template <class T>
CudaRow bench_cuda_case(BareCublas& bare, bool ta, bool tb, Shape s, kite::Device device,
                        const TimingSettings& timing, bool tf32) {
  using kite::Tensor;
  const kite::DType dtype = sizeof(T) == 4 ? kite::DType::Float32 : kite::DType::Float64;
  kite::Generator generator(42);
  const auto random = [&](int64_t rows, int64_t cols) {
    return kite::to_device(kite::randn({rows, cols}, dtype, kite::Device::cpu(), &generator),
                           device);
  };
  const Tensor a = ta ? random(s.k, s.m) : random(s.m, s.k);  // as stored
  const Tensor b = tb ? random(s.n, s.k) : random(s.k, s.n);
  const Tensor op_a = ta ? kite::transpose(a, 0, 1) : a, op_b = tb ? kite::transpose(b, 0, 1) : b;
  const Tensor c_bare = Tensor::empty({s.m, s.n}, dtype, device);
  Tensor c_kite;
  const auto run_kite = [&] { c_kite = kite::matmul(op_a, op_b); };
  // The engine's cuBLAS wrapper alone (cuda/blas.h) on a preallocated output: what kite's op
  // adds on top of it (checks, allocation, dispatch) is kite ms - wrapper ms.
  const Tensor c_wrapper = Tensor::empty({s.m, s.n}, dtype, device);
  const auto run_wrapper = [&] {
    kite::cuda::gemm_strided_batched<T>(ta, tb, s.m, s.n, s.k, T(1), a.data_ptr<T>(),
                                        ta ? s.m : s.k, 0, b.data_ptr<T>(), tb ? s.k : s.n, 0, T(0),
                                        c_wrapper.data_ptr<T>(), s.n, 0, 1);
  };
  const auto run_bare = [&] {
    bare.gemm<T>(ta, tb, int(s.m), int(s.n), int(s.k), a.data_ptr<T>(), b.data_ptr<T>(),
                 c_bare.data_ptr<T>(), tf32);
  };

  kite::apps::DeviceTimer timer(device);
  // Also the host's time to issue the batch's first calls (before waiting for the GPU; few
  // enough not to fill the launch queue, which would make the host wait for the GPU): when it
  // is as long as the GPU's time per call, the case measures launch overhead, not the GEMM.
  std::vector<double> kite_times, bare_times, wrapper_times, kite_issue_us, bare_issue_us;
  const auto batch_ms = [&](auto&& call, int reps, std::vector<double>* host_us = nullptr) {
    timer.start();
    const int sampled = std::min(reps, 32);
    const auto issue_start = std::chrono::steady_clock::now();
    auto issue_end = issue_start;
    for (int r = 0; r < reps; ++r) {
      call();
      if (r + 1 == sampled) issue_end = std::chrono::steady_clock::now();
    }
    const std::chrono::duration<double, std::micro> issued = issue_end - issue_start;
    if (host_us) host_us->push_back(issued.count() / sampled);
    return timer.stop_ms() / reps;
  };
  // Warm-up: the handles, the caching allocator's block, cuBLAS's choice of kernel.
  batch_ms(run_kite, 2);
  const double first_ms = std::max(batch_ms(run_bare, 2), 1e-4);
  const int reps = timing.reps > 0 ? timing.reps : std::clamp(int(20.0 / first_ms), 3, 1000);
  for (int round = 0; round < 3; ++round) {
    kite_times.push_back(batch_ms(run_kite, reps, &kite_issue_us));
    bare_times.push_back(batch_ms(run_bare, reps, &bare_issue_us));
    wrapper_times.push_back(batch_ms(run_wrapper, reps));
  }

  const Tensor a_host = kite::to_device(a, kite::Device::cpu());
  const Tensor b_host = kite::to_device(b, kite::Device::cpu());
  const Tensor kite_host = kite::to_device(c_kite, kite::Device::cpu());
  const Tensor bare_host = kite::to_device(c_bare, kite::Device::cpu());
  const T* kite_c = kite_host.data_ptr<T>();
  const T* bare_c = bare_host.data_ptr<T>();
  double err_vs_cublas = 0;
  for (int64_t i = 0; i < s.m * s.n; ++i)
    err_vs_cublas = std::max(err_vs_cublas, double(std::fabs(kite_c[i] - bare_c[i])));
  std::mt19937_64 sample_rng(7);
  const double err_vs_naive =
      sampled_error(ta, tb, s, a_host.data_ptr<T>(), ta ? s.m : s.k, b_host.data_ptr<T>(),
                    tb ? s.k : s.n, kite_c, s.n, sample_rng);
  return {sizeof(T) == 4 ? "f32" : "f64",
          std::string(ta ? "t" : "n") + (tb ? "t" : "n"),
          s,
          summarize(kite_times, timing.stat),
          summarize(bare_times, timing.stat),
          summarize(wrapper_times, timing.stat),
          summarize(kite_issue_us, timing.stat),
          summarize(bare_issue_us, timing.stat),
          err_vs_cublas,
          err_vs_naive};
}

int run_cuda(kite::Device device, const std::vector<Shape>& shapes, const std::string& dtype,
             const std::vector<std::string>& transposes, const TimingSettings& timing, bool tf32) {
  kite::cuda::set_allow_tf32(tf32);
  BareCublas bare;
  std::cout << "# bench_gemm on " << device.str() << "\n\n"
            << "- kite: kite::matmul (the op); cuBLAS: cublasSgemm/cublasDgemm on the same "
               "operands and stream\n"
            << "- float32 math: " << (tf32 ? "TF32 tensor cores (--tf32)" : "full float32")
            << "\n- time per case: " << timing.stat
            << " of 3 alternating batches, each the mean call of a batch timed with CUDA events\n"
            << "- wrapper: kite's GEMM wrapper (cuda/blas.h: one matrix through a cublasLt plan kept "
               "per shape) alone, without the op\n"
            << "- host us: the host's time to issue one call (a case whose host time is its GPU "
               "time per call measures launch overhead)\n\n"
            << "| dtype | op | MxNxK | kite ms | cuBLAS ms | kite TFLOP/s | cuBLAS TFLOP/s | "
               "kite/cuBLAS time | wrapper ms | kite host us | cuBLAS host us | "
               "max abs kite-cuBLAS | max abs kite-naive |\n"
            << "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  double worst = 0;
  std::string worst_case;
  int within = 0, timed = 0;
  for (const std::string& dt : {std::string("f32"), std::string("f64")}) {
    if (dtype != "both" && dtype != dt) continue;
    for (const std::string& tr : transposes) {
      for (const Shape& s : shapes) {
        const bool ta = tr[0] == 't', tb = tr[1] == 't';
        const CudaRow r = dt == "f32"
                              ? bench_cuda_case<float>(bare, ta, tb, s, device, timing, tf32)
                              : bench_cuda_case<double>(bare, ta, tb, s, device, timing, tf32);
        const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
        const std::string shape =
            std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
        const double ratio = r.kite_ms / r.cublas_ms;
        std::cout << "| " << r.dtype << " | " << r.trans << " | " << shape << " | "
                  << fmt("%.4f", r.kite_ms) << " | " << fmt("%.4f", r.cublas_ms) << " | "
                  << fmt("%.2f", flops / r.kite_ms * 1e-9) << " | "
                  << fmt("%.2f", flops / r.cublas_ms * 1e-9) << " | " << fmt("%.3f", ratio) << " | "
                  << fmt("%.4f", r.wrapper_ms) << " | " << fmt("%.1f", r.kite_host_us) << " | "
                  << fmt("%.1f", r.cublas_host_us) << " | " << fmt("%.1e", r.err_vs_cublas) << " | "
                  << fmt("%.1e", r.err_vs_naive) << " |\n";
        std::cout.flush();
        if (flops == 0) continue;
        ++timed;
        if (ratio <= 1.05) ++within;
        if (ratio > worst) {
          worst = ratio;
          worst_case = r.dtype + " " + r.trans + " " + shape;
        }
      }
    }
  }
  if (timed > 0)
    std::cout << "\ntarget (kite/cuBLAS time <= 1.05): met for " << within << " of " << timed
              << " cases; worst " << fmt("%.3f", worst) << " (" << worst_case << ")\n";
  return 0;
}
#endif  // KITE_WITH_CUDA

int run(int argc, char** argv) {
  CLI::App app{"bench_gemm: GFLOP/s of kite's CPU GEMM next to OpenBLAS (markdown table)"};
  std::vector<int> thread_counts{1, 2};
  std::vector<std::string> sizes{"128",          "256",          "512",
                                 "1024",         "2048",         "64x1024x1024",
                                 "1024x64x1024", "1024x1024x64", "1x1024x1024"};
  std::string dtype = "both", kernel_name = "auto", device = "cpu", clock = "wall";
  TimingSettings timing;
  std::vector<std::string> transposes{"nn"};
  app.add_option("--threads", thread_counts, "OpenMP thread counts, e.g. 1,2")->delimiter(',');
  app.add_option("--sizes", sizes, "N (square) or MxNxK, comma separated")->delimiter(',');
  app.add_option("--dtype", dtype, "f32, f64 or both")
      ->check(CLI::IsMember({"f32", "f64", "both"}));
  app.add_option("--trans", transposes, "transpose cases: nn, nt, tn, tt (op(A) op(B))")
      ->delimiter(',')
      ->check(CLI::IsMember({"nn", "nt", "tn", "tt"}));
  app.add_option("--reps", timing.reps, "timed calls per batch (0: enough for ~0.1 s)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--stat", timing.stat, "time of a case: best (fastest call) or median")
      ->check(CLI::IsMember({"best", "median"}));
  app.add_option("--clock", clock,
                 "wall, or cpu (the thread's CPU time: robust on a busy machine, 1 thread only)")
      ->check(CLI::IsMember({"wall", "cpu"}));
  app.add_option("--kernel", kernel_name, "micro-kernel: auto, avx512, avx2 or generic");
  kite::apps::add_device_flag(app, device);
  bool tf32 = false;
  app.add_flag("--tf32", tf32, "GPU float32 products on TF32 tensor cores (both sides)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  const kite::Device where = kite::apps::resolve_device(device);
  if (where.is_cuda()) {
    KITE_CHECK(clock == "wall",
               "bench_gemm: --clock cpu times the host's CPU; on a GPU use --clock wall");
    // The GPU's own default shapes: large squares, the autoencoder's largest conv as a GEMM
    // (im2col rows x out channels x 3x3x128), and a matrix-vector product.
    if (app.count("--sizes") == 0)
      sizes = {"256", "1024", "4096", "8192", "12544x128x1152", "1x4096x4096"};
    std::vector<Shape> gpu_shapes;
    try {
      for (const std::string& text : sizes) gpu_shapes.push_back(parse_shape(text));
    } catch (const kite::Error& e) {
      std::cerr << e.what() << "\n";
      return 2;
    }
#if defined(KITE_WITH_CUDA)
    return run_cuda(where, gpu_shapes, dtype, transposes, timing, tf32);
#endif
  }
  KITE_CHECK(!tf32, "bench_gemm: --tf32 is for --device cuda");

  // Flag values are checked here too; a bad one exits with 2 like a parse error.
  std::vector<Shape> shapes;
  const kite::cpu::GemmKernel<float>* kernel_f32 = nullptr;
  const kite::cpu::GemmKernel<double>* kernel_f64 = nullptr;
  try {
    for (const std::string& text : sizes) shapes.push_back(parse_shape(text));
    for (int t : thread_counts) {
      KITE_CHECK(t >= 1, "bench_gemm: --threads must be >= 1, got " << t);
      KITE_CHECK(clock == "wall" || t == 1,
                 "bench_gemm: --clock cpu measures one thread only; use --threads 1");
    }
    kernel_f32 = &find_kernel<float>(kernel_name);
    kernel_f64 = &find_kernel<double>(kernel_name);
  } catch (const kite::Error& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  timing.cpu_clock = clock == "cpu";

  const OpenBlas blas;
  const double core_peak = measured_core_peak_f32();
  auto env = [](const char* name) {
    const char* value = std::getenv(name);
    return std::string(name) + "=" + (value != nullptr ? value : "(unset)");
  };
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 0) load[0] = -1;
  std::cout << "# bench_gemm\n\n"
            << "- kite kernel: f32 " << kernel_f32->name << ", f64 " << kernel_f64->name << "\n"
            << "- OpenBLAS: " << blas.describe() << "\n"
            << "- " << env("OPENBLAS_CORETYPE") << ", " << env("OPENBLAS_L2_SIZE") << ", "
            << env("OMP_WAIT_POLICY") << "\n"
            << "- logical CPUs: " << omp_get_num_procs()
            << "; measured FMA peak per core: " << fmt("%.1f", core_peak) << " GFLOP/s f32 ("
            << fmt("%.1f", core_peak / 2) << " f64); the % peak column uses it times the threads\n"
            << "- time per case: " << timing.stat << " " << clock
            << "-clock time of 3 alternating rounds of calls; load average at start "
            << fmt("%.2f", load[0]) << " (other work on the machine slows both libraries)\n\n"
            << "| dtype | op | threads | MxNxK | kite GFLOP/s | % peak | OpenBLAS GFLOP/s | "
               "kite/OpenBLAS | max abs kite-OpenBLAS | max abs kite-naive | "
               "max abs OpenBLAS-naive |\n"
            << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const std::string& dt : {std::string("f32"), std::string("f64")}) {
    if (dtype != "both" && dtype != dt) continue;
    for (const std::string& tr : transposes) {
      for (int threads : thread_counts) {
        for (const Shape& s : shapes) {
          const bool ta = tr[0] == 't', tb = tr[1] == 't';
          const Row row = dt == "f32"
                              ? bench_case<float>(blas, *kernel_f32, ta, tb, threads, s, timing)
                              : bench_case<double>(blas, *kernel_f64, ta, tb, threads, s, timing);
          print_row(row, core_peak);
          std::cout.flush();
        }
      }
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
