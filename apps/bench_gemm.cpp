// bench_gemm: GFLOP/s of the engine's CPU GEMM (kite::cpu::gemm), side by side with OpenBLAS.
//
// OpenBLAS is optional and never linked: it is dlopen'ed at run time ("libopenblas.so.0", then
// "libopenblas.so") and only used as a yardstick and as a reference for the results. Without
// it the table shows "-" and results are checked against a naive sum on sampled entries.
//
// Usage: bench_gemm [--threads 1,2] [--sizes 256,1024,64x1024x1024] [--dtype f32|f64|both]
//                   [--trans nn,nt,tn,tt] [--reps N] [--stat best|median] [--clock wall|cpu]
//                   [--kernel auto|avx512|avx2|generic] [--device cpu]
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
#include <vector>

#include "engine/error.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/gemm_kernel.h"

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
  // A later issue adds "cuda" (cuBLAS as the peer); the CPU path is the only one for now.
  app.add_option("--device", device, "where to run: cpu")->check(CLI::IsMember({"cpu"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

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
