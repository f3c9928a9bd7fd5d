// cuRAND's Philox device API as a reference stream (see curand_reference.h). One thread draws
// the words in order: this is a test oracle, not a fill.
#include <curand_kernel.h>

#include "cuda/check.h"
#include "cuda/curand_reference.h"
#include "cuda/device.h"
#include "cuda/stream.h"
#include "engine/error.h"
#include "engine/tensor.h"

namespace kite::cuda {
namespace {

__global__ void curand_words_kernel(uint64_t seed, uint64_t subsequence, uint64_t offset,
                                    int64_t count, uint32_t* out) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  curandStatePhilox4_32_10_t state;
  curand_init(seed, subsequence, offset, &state);
  for (int64_t i = 0; i < count; ++i) out[i] = curand(&state);
}

}  // namespace

std::vector<uint32_t> curand_philox_words(uint64_t seed, uint64_t subsequence, uint64_t offset,
                                          int64_t count, int device) {
  KITE_CHECK(count >= 0, "curand_philox_words: negative count " << count);
  std::vector<uint32_t> words(static_cast<size_t>(count));
  if (count == 0) return words;
  DeviceGuard guard(device);
  // int64 storage of at least count 32-bit words, from the caching allocator.
  Tensor buffer = Tensor::empty({(count + 1) / 2}, DType::Int64, Device::cuda(device));
  uint32_t* out = static_cast<uint32_t*>(buffer.raw_data());
  curand_words_kernel<<<1, 1, 0, current_stream()>>>(seed, subsequence, offset, count, out);
  KITE_CUDA_CHECK_LAUNCH();
  CUDA_CHECK(cudaMemcpyAsync(words.data(), out, words.size() * sizeof(uint32_t),
                             cudaMemcpyDeviceToHost, current_stream()));
  CUDA_CHECK(cudaStreamSynchronize(current_stream()));
  return words;
}

}  // namespace kite::cuda
