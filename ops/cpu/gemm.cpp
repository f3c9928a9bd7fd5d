// The CPU GEMM driver: blocking, packing and threading around a SIMD micro-kernel
// (BLIS-style; see Van Zee & van de Geijn, "BLIS: A Framework for Rapidly Instantiating BLAS
// Functionality", 2015, for the loop structure).
//
// C (m x n) is computed in five nested loops around the micro-kernel:
//
//   for ic in steps of mc:            rows of A; the mc x kc block of A is packed once, shared
//     for pc in steps of kc:          depth;     by all threads, and lives in L3
//       pack A[ic.., pc..]  (all threads, one share each)
//       for jc in steps of nc:        columns of B; each thread packs its own kc x nc block
//         pack B[pc.., jc..]          into its private L2
//         for ir in steps of mr:      one mr x kc sliver of A, kept in L1 ...
//           for jr in steps of nr:    ... is multiplied by each kc x nr sliver of B (from L2)
//             micro-kernel            into an mr x nr tile of C held in registers
//
// Threads split the columns of C (and, when C is too narrow, its rows): each thread owns a
// rectangle of C, so no two threads ever write the same element. The first depth block
// applies beta; later ones accumulate onto C with beta = 1.
#include "ops/cpu/gemm.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

#include "engine/error.h"
#include "ops/cpu/gemm_kernel.h"

namespace kite::cpu {
namespace {

// Below this many flops per thread, starting threads costs more than it saves.
constexpr double kMinFlopsPerThread = 2.0 * 96 * 96 * 96;

// Largest register tile of any kernel (avx512 float is 12 x 32); edge tiles use a scratch
// tile of this size.
constexpr int kMaxTileElems = 16 * 32;

// A 64-byte aligned buffer that only ever grows.
class ScratchBuffer {
 public:
  void* get(size_t bytes) {
    if (bytes > capacity_) {
      const size_t rounded = (bytes + 63) / 64 * 64;
      data_.reset(std::aligned_alloc(64, rounded));
      KITE_CHECK(data_ != nullptr, "gemm: cannot allocate " << rounded << " bytes of scratch");
      capacity_ = rounded;
    }
    return data_.get();
  }
  void* data() const { return data_.get(); }

 private:
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<void, FreeDeleter> data_;
  size_t capacity_ = 0;
};

// The packing buffers of a gemm call: the A block shared by the team and one B block per
// thread. They belong to the calling thread and are reused by its later calls, so repeated
// GEMMs pay for neither allocation nor page faults. All of them are sized before the threads
// start, where an allocation failure can still be thrown as an ordinary exception.
struct Workspace {
  ScratchBuffer a_block;
  std::vector<ScratchBuffer> b_blocks;
};
thread_local Workspace tls_workspace;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The share [begin, end) of `count` items that part `index` of `parts` gets (sizes differ by
// at most one).
struct Range {
  int64_t begin, end;
};
Range split(int64_t count, int64_t parts, int64_t index) {
  const int64_t base = count / parts, extra = count % parts;
  const int64_t begin = index * base + std::min(index, extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

// C = beta * C, without reading C when beta == 0.
template <class T>
void scale_c(int64_t m, int64_t n, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0)) {
      std::fill(row, row + n, T(0));
    } else if (beta != T(1)) {
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

// Adds a partial tile (rows x cols of the full kernel tile `tile`, row stride nr) into C.
template <class T>
void store_edge_tile(const T* tile, int nr, int rows, int cols, T alpha, T beta, T* c,
                     int64_t ldc) {
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < cols; ++j) {
      T& dst = c[r * ldc + j];
      dst = beta == T(0) ? alpha * tile[r * nr + j] : alpha * tile[r * nr + j] + beta * dst;
    }
}

// Splits `total` into the fewest blocks of at most `max_block`, all of (nearly) the same size,
// rounded up to a multiple of `multiple`: 1024 with a limit of 384 becomes 3 x 342 rather
// than 384 + 384 + 256, so no block is left short and inefficient.
int64_t balanced_block(int64_t total, int64_t max_block, int64_t multiple) {
  const int64_t blocks = std::max<int64_t>(1, ceil_div(total, max_block));
  return ceil_div(ceil_div(total, blocks), multiple) * multiple;
}

// How the threads tile C: thread_rows x thread_cols threads, each owning one rectangle.
// Splitting columns is preferred (the shared A block is then packed once); rows are split
// too when C has fewer column slivers than threads.
struct ThreadGrid {
  int rows = 1, cols = 1;
};
ThreadGrid choose_thread_grid(int threads, int64_t m_slivers, int64_t n_slivers) {
  ThreadGrid best;
  int64_t best_tiles = -1;
  for (int cols = threads; cols >= 1; --cols) {
    if (threads % cols != 0) continue;
    const int rows = threads / cols;
    // Work of the busiest thread, in micro-tiles.
    const int64_t tiles = ceil_div(m_slivers, rows) * ceil_div(n_slivers, cols);
    if (best_tiles < 0 || tiles < best_tiles) {
      best = {rows, cols};
      best_tiles = tiles;
    }
  }
  return best;
}

template <class T>
struct Problem {
  bool trans_a, trans_b;
  int64_t m, n, k;
  T alpha;
  const T* a;
  int64_t lda;
  const T* b;
  int64_t ldb;
  T beta;
  T* c;
  int64_t ldc;
};

// The loop nest run by thread `tid` of `threads`; every thread runs the same ic/pc loops so
// that they meet at the same barriers.
template <class T>
void run_thread(const GemmKernel<T>& kern, const Problem<T>& pb, int64_t mc_step, int64_t kc_step,
                int threads, ThreadGrid grid, int tid, T* a_block, T* b_block) {
  const int mr = kern.mr, nr = kern.nr;

  // This thread's columns of C, in whole slivers, cut into equal blocks of at most nc.
  const Range my_slivers = split(ceil_div(pb.n, nr), grid.cols, tid % grid.cols);
  const int64_t col_begin = my_slivers.begin * nr;
  const int64_t col_end = std::min(pb.n, my_slivers.end * nr);
  const int64_t my_cols = std::max<int64_t>(0, col_end - col_begin);
  const int64_t nc = balanced_block(my_cols, kern.nc, nr);  // <= b_block_cols in gemm_with_kernel

  alignas(64) T edge_tile[kMaxTileElems];

  for (int64_t ic = 0; ic < pb.m; ic += mc_step) {
    const int64_t mc = std::min(mc_step, pb.m - ic);
    const int64_t a_slivers = ceil_div(mc, mr);
    const Range my_rows = split(a_slivers, grid.rows, tid / grid.cols);

    for (int64_t pc = 0; pc < pb.k; pc += kc_step) {
      const int64_t kc = std::min(kc_step, pb.k - pc);
      const T beta = pc == 0 ? pb.beta : T(1);

      const Range my_pack = split(a_slivers, threads, tid);
      kern.pack_a(pb.trans_a, pb.a, pb.lda, ic, mc, pc, kc, my_pack.begin, my_pack.end, a_block);
      if (threads > 1) {
#pragma omp barrier
      }

      for (int64_t jc = col_begin; jc < col_end; jc += nc) {
        const int64_t nc_now = std::min(nc, col_end - jc);
        const int64_t b_slivers = ceil_div(nc_now, nr);
        // Packing B pays off because each sliver is reused by every sliver of A. With a
        // single sliver of A (C has at most mr rows here) it would be copied only to be read
        // once, so a non-transposed B is then read in place; only the ragged last sliver,
        // which needs zero padding, is still packed.
        const bool b_in_place = !pb.trans_b && my_rows.end - my_rows.begin == 1;
        const int64_t in_place_slivers = b_in_place ? nc_now / nr : 0;
        if (in_place_slivers < b_slivers)
          kern.pack_b(pb.trans_b, pb.b, pb.ldb, pc, kc, jc + in_place_slivers * nr,
                      nc_now - in_place_slivers * nr, b_block);

        for (int64_t s = my_rows.begin; s < my_rows.end; ++s) {
          const T* a_sliver = a_block + s * mr * kc;
          const int rows = static_cast<int>(std::min<int64_t>(mr, mc - s * mr));
          const MicroKernel<T> kernel = kern.run[rows];
          T* c_row = pb.c + (ic + s * mr) * pb.ldc + jc;
          for (int64_t t = 0; t < b_slivers; ++t) {
            const bool in_place = t < in_place_slivers;
            const T* b_sliver = in_place ? pb.b + pc * pb.ldb + jc + t * nr
                                         : b_block + (t - in_place_slivers) * nr * kc;
            const int64_t b_stride = in_place ? pb.ldb : nr;
            const int cols = static_cast<int>(std::min<int64_t>(nr, nc_now - t * nr));
            T* c_tile = c_row + t * nr;
            if (cols == nr) {
              kernel(kc, a_sliver, b_sliver, b_stride, pb.alpha, beta, c_tile, pb.ldc);
            } else {
              kernel(kc, a_sliver, b_sliver, b_stride, T(1), T(0), edge_tile, nr);
              store_edge_tile(edge_tile, nr, rows, cols, pb.alpha, beta, c_tile, pb.ldc);
            }
          }
        }
      }
      // Nobody may repack the shared A block while another thread still reads it.
      if (threads > 1) {
#pragma omp barrier
      }
    }
  }
}

}  // namespace

template <class T>
const std::vector<GemmKernel<T>>& gemm_kernels() {
  static const std::vector<GemmKernel<T>> kernels = [] {
    std::vector<GemmKernel<T>> list;
    if (cpu_has_avx512()) list.push_back(gemm_kernel_avx512<T>());
    if (cpu_has_avx2()) list.push_back(gemm_kernel_avx2<T>());
    list.push_back(gemm_kernel_generic<T>());
    return list;
  }();
  return kernels;
}

template <class T>
void gemm_with_kernel(const GemmKernel<T>& kern, bool trans_a, bool trans_b, int64_t m, int64_t n,
                      int64_t k, T alpha, const T* a, int64_t lda, const T* b, int64_t ldb, T beta,
                      T* c, int64_t ldc) {
  KITE_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=" << m << " n=" << n << " k=" << k);
  const int64_t a_cols = trans_a ? m : k, b_cols = trans_b ? k : n;
  KITE_CHECK(lda >= a_cols, "gemm: lda=" << lda << " is less than the " << a_cols
                                         << " columns of the stored A (trans_a=" << trans_a << ")");
  KITE_CHECK(ldb >= b_cols, "gemm: ldb=" << ldb << " is less than the " << b_cols
                                         << " columns of the stored B (trans_b=" << trans_b << ")");
  KITE_CHECK(ldc >= n, "gemm: ldc=" << ldc << " is less than n=" << n);
  KITE_CHECK(kern.mr * kern.nr <= kMaxTileElems,
             "gemm: kernel " << kern.name << " tile " << kern.mr << "x" << kern.nr
                             << " exceeds the edge scratch tile");
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == T(0)) {
    scale_c(m, n, beta, c, ldc);
    return;
  }

  const Problem<T> pb{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
  const int64_t m_slivers = ceil_div(m, kern.mr), n_slivers = ceil_div(n, kern.nr);
  const double flops = 2.0 * double(m) * double(n) * double(k);
  const int max_threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int threads =
      static_cast<int>(std::clamp<double>(flops / kMinFlopsPerThread, 1.0, double(max_threads)));
  const ThreadGrid grid = choose_thread_grid(threads, m_slivers, n_slivers);

  const int64_t mc_step = balanced_block(m, kern.mc, kern.mr);
  const int64_t kc_step = balanced_block(k, kern.kc, 1);
  // Widest B block any thread packs: its columns are at most n, in blocks of at most nc.
  const int64_t b_block_cols = std::min(ceil_div(kern.nc, kern.nr), n_slivers) * kern.nr;
  Workspace& ws = tls_workspace;
  T* a_block = static_cast<T*>(ws.a_block.get(sizeof(T) * mc_step * kc_step));
  if (ws.b_blocks.size() < size_t(threads)) ws.b_blocks.resize(threads);
  for (int t = 0; t < threads; ++t) ws.b_blocks[t].get(sizeof(T) * kc_step * b_block_cols);

  if (threads == 1) {
    run_thread(kern, pb, mc_step, kc_step, 1, grid, 0, a_block,
               static_cast<T*>(ws.b_blocks[0].data()));
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    // The runtime may give us fewer threads than asked for; size the work to what we got.
    const int team = omp_get_num_threads(), tid = omp_get_thread_num();
    const ThreadGrid team_grid = team == threads ? grid : ThreadGrid{1, team};
    run_thread(kern, pb, mc_step, kc_step, team, team_grid, tid, a_block,
               static_cast<T*>(ws.b_blocks[tid].data()));
  }
}

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  gemm_with_kernel(gemm_kernels<T>().front(), trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                   beta, c, ldc);
}

template <class T>
const char* gemm_kernel_name() {
  return gemm_kernels<T>().front().name;
}

#define KITE_INSTANTIATE_GEMM(T)                                                                 \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*,   \
                        int64_t, T, T*, int64_t);                                                \
  template void gemm_with_kernel<T>(const GemmKernel<T>&, bool, bool, int64_t, int64_t, int64_t, \
                                    T, const T*, int64_t, const T*, int64_t, T, T*, int64_t);    \
  template const std::vector<GemmKernel<T>>& gemm_kernels<T>();                                  \
  template const char* gemm_kernel_name<T>();

KITE_INSTANTIATE_GEMM(float)
KITE_INSTANTIATE_GEMM(double)

}  // namespace kite::cpu
