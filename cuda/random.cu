// CUDA kernel of the random fills: the Philox4x32-10 stream of engine/philox.h, laid out
// exactly as the CPU Generator's fills (engine/generator.h), so that a fill on the GPU gives
// the CPU's numbers for the same generator state: identical raw words and uniforms, normals
// equal up to the last few bits of sin/cos/log.
//
// The host reserves the fill's words with Generator::advance (the same count a CPU fill
// would use, so the generator ends in the same state), then each thread computes the words
// of its own elements from (seed, start offset + word index).
#include "cuda/kernels.h"
#include "cuda/launch.cuh"
#include "engine/dtype.h"
#include "engine/philox.h"

namespace kite::cuda {
namespace {

// K consecutive words of subsequence 0 starting at word `first` (K <= 4: at most two
// Philox blocks).
template <int K>
__device__ __forceinline__ void stream_words(uint64_t seed, uint64_t first, uint32_t (&out)[K]) {
  uint64_t block = first / kPhiloxWordsPerBlock;
  int lane = static_cast<int>(first % kPhiloxWordsPerBlock);
  PhiloxBlock words = philox_block(seed, 0, block);
#pragma unroll
  for (int k = 0; k < K; ++k) {
    if (lane == kPhiloxWordsPerBlock) {
      words = philox_block(seed, 0, ++block);
      lane = 0;
    }
    out[k] = words.word[lane++];
  }
}

// Element i = lo + range * u(word offset + i), float: one word per element.
__global__ void uniform_float_kernel(GeneratorState start, float lo, float range, float* out,
                                     int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    uint32_t w[1];
    stream_words<1>(start.seed, start.offset + static_cast<uint64_t>(i), w);
    out[i] = lo + range * philox_uniform_float(w[0]);
  }
}

// Double: words 2i and 2i + 1 per element.
__global__ void uniform_double_kernel(GeneratorState start, double lo, double range, double* out,
                                      int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    uint32_t w[2];
    stream_words<2>(start.seed, start.offset + 2 * static_cast<uint64_t>(i), w);
    out[i] = lo + range * philox_uniform_double(w[0], w[1]);
  }
}

// Box-Muller pairs: pair j makes elements 2j and 2j + 1 (the second only when it exists)
// from words 2j, 2j + 1 (float) or 4j .. 4j + 3 (double).
__global__ void normal_float_kernel(GeneratorState start, float mean, float std, float* out,
                                    int64_t n) {
  const int64_t pairs = (n + 1) / 2;
  for (int64_t j = first_index(); j < pairs; j += grid_stride()) {
    uint32_t w[2];
    stream_words<2>(start.seed, start.offset + 2 * static_cast<uint64_t>(j), w);
    const NormalPairFloat pair = philox_box_muller_float(w[0], w[1]);
    out[2 * j] = mean + std * pair.first;
    if (2 * j + 1 < n) out[2 * j + 1] = mean + std * pair.second;
  }
}

__global__ void normal_double_kernel(GeneratorState start, double mean, double std, double* out,
                                     int64_t n) {
  const int64_t pairs = (n + 1) / 2;
  for (int64_t j = first_index(); j < pairs; j += grid_stride()) {
    uint32_t w[4];
    stream_words<4>(start.seed, start.offset + 4 * static_cast<uint64_t>(j), w);
    const NormalPairDouble pair = philox_box_muller_double(w[0], w[1], w[2], w[3]);
    out[2 * j] = mean + std * pair.first;
    if (2 * j + 1 < n) out[2 * j + 1] = mean + std * pair.second;
  }
}

// 1 when the uniform of the element's precision is <= p (compared in double, as on the CPU).
__global__ void bernoulli_float_kernel(GeneratorState start, double p, float* out, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    uint32_t w[1];
    stream_words<1>(start.seed, start.offset + static_cast<uint64_t>(i), w);
    out[i] = static_cast<double>(philox_uniform_float(w[0])) <= p ? 1.0f : 0.0f;
  }
}

__global__ void bernoulli_double_kernel(GeneratorState start, double p, double* out, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    uint32_t w[2];
    stream_words<2>(start.seed, start.offset + 2 * static_cast<uint64_t>(i), w);
    out[i] = philox_uniform_double(w[0], w[1]) <= p ? 1.0 : 0.0;
  }
}

}  // namespace

void random_kernel(const RandomParams& params, Generator& generator, const Tensor& out) {
  KITE_CHECK(out.is_contiguous(),
             "random kernel: output must be contiguous, got " << describe(out));
  const int64_t n = out.numel();
  if (n == 0) return;
  DeviceGuard guard(out.device().index);
  const uint64_t count = static_cast<uint64_t>(n);
  const uint64_t pairs = (count + 1) / 2;
  const int grid = grid_for(n);
  const cudaStream_t stream = current_stream();
  visit_floating(out.dtype(), "random kernel", [&](auto tag) {
    using T = decltype(tag);
    constexpr bool is_float = std::is_same_v<T, float>;
    T* data = out.data_ptr<T>();
    // Words per fill exactly as engine/generator.cpp counts them.
    switch (params.kind) {
      case RandomKind::Uniform: {
        const T lo = static_cast<T>(params.a), hi = static_cast<T>(params.b);
        const GeneratorState start = generator.advance(is_float ? count : 2 * count);
        if constexpr (is_float)
          uniform_float_kernel<<<grid, kBlockSize, 0, stream>>>(start, lo, hi - lo, data, n);
        else
          uniform_double_kernel<<<grid, kBlockSize, 0, stream>>>(start, lo, hi - lo, data, n);
        break;
      }
      case RandomKind::Normal: {
        const T mean = static_cast<T>(params.a), std = static_cast<T>(params.b);
        const GeneratorState start = generator.advance(is_float ? 2 * pairs : 4 * pairs);
        if constexpr (is_float)
          normal_float_kernel<<<grid, kBlockSize, 0, stream>>>(start, mean, std, data, n);
        else
          normal_double_kernel<<<grid, kBlockSize, 0, stream>>>(start, mean, std, data, n);
        break;
      }
      case RandomKind::Bernoulli: {
        KITE_CHECK(params.a >= 0.0 && params.a <= 1.0,
                   "random kernel: probability must lie in [0, 1], got " << params.a);
        const GeneratorState start = generator.advance(is_float ? count : 2 * count);
        if constexpr (is_float)
          bernoulli_float_kernel<<<grid, kBlockSize, 0, stream>>>(start, params.a, data, n);
        else
          bernoulli_double_kernel<<<grid, kBlockSize, 0, stream>>>(start, params.a, data, n);
        break;
      }
    }
    KITE_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace kite::cuda
