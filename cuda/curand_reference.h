// Raw 32-bit words from cuRAND's own Philox4x32-10 device generator, for the test that checks
// kite's Philox (engine/philox.h, used by the CPU Generator and the CUDA random kernels)
// against cuRAND: same seed and offset must give the same words.
#pragma once

#include <cstdint>
#include <vector>

namespace kite::cuda {

// The first `count` results of curand() after curand_init(seed, subsequence, offset), drawn
// on device `device`.
std::vector<uint32_t> curand_philox_words(uint64_t seed, uint64_t subsequence, uint64_t offset,
                                          int64_t count, int device = 0);

}  // namespace kite::cuda
