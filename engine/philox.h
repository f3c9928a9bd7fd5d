// Philox4x32-10, the counter-based random generator of Salmon et al. ("Parallel Random
// Numbers: As Easy as 1, 2, 3", SC'11), plus cuRAND's conversions to uniform and normal
// numbers. Shared by the CPU generator and CUDA kernels (everything here is KITE_HD).
//
// Why a counter-based generator: word w of a stream is a pure function of (seed, w), so any
// thread can compute its own elements without a shared state, and a fill gives the same
// numbers whatever the thread count or device.
//
// Stream layout, identical to cuRAND's curandStatePhilox4_32_10 so that raw 32-bit words
// match across devices: curand_init(seed, subsequence, offset) uses
//   key     = {seed low 32 bits, seed high 32 bits}
//   counter = {block low 32, block high 32, subsequence low 32, subsequence high 32}
// where block = offset / 4, and curand() returns the 4 output words of each block in order
// (offset % 4 skips words inside the first block). So word w of a subsequence is
//   philox4x32_10(counter(w / 4, subsequence), key(seed)).word[w % 4].
#pragma once

#include <math.h>
#include <stdint.h>

#include "engine/hd.h"

namespace kite {

struct PhiloxKey {
  uint32_t word[2];
};

struct PhiloxCounter {
  uint32_t word[4];
};

// Four 32-bit outputs of one counter value.
struct PhiloxBlock {
  uint32_t word[4];
};

// Round multipliers and Weyl key increments from the Random123 paper (the golden ratio
// and sqrt(3) - 1, scaled to 32 bits, for the increments).
inline constexpr uint32_t kPhiloxMultiplier0 = 0xD2511F53u;
inline constexpr uint32_t kPhiloxMultiplier1 = 0xCD9E8D57u;
inline constexpr uint32_t kPhiloxWeyl0 = 0x9E3779B9u;
inline constexpr uint32_t kPhiloxWeyl1 = 0xBB67AE85u;
inline constexpr int kPhiloxRounds = 10;
inline constexpr int kPhiloxWordsPerBlock = 4;

KITE_HD PhiloxKey philox_key(uint64_t seed) {
  return PhiloxKey{{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}};
}

KITE_HD PhiloxCounter philox_counter(uint64_t block, uint64_t subsequence) {
  return PhiloxCounter{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                        static_cast<uint32_t>(subsequence),
                        static_cast<uint32_t>(subsequence >> 32)}};
}

// One Philox S-box round: two 32x32->64 multiplications whose high halves are mixed with
// the other two words and the key, then a word permutation.
KITE_HD PhiloxCounter philox_round(PhiloxCounter c, PhiloxKey k) {
  const uint64_t product0 = static_cast<uint64_t>(kPhiloxMultiplier0) * c.word[0];
  const uint64_t product1 = static_cast<uint64_t>(kPhiloxMultiplier1) * c.word[2];
  const uint32_t hi0 = static_cast<uint32_t>(product0 >> 32);
  const uint32_t lo0 = static_cast<uint32_t>(product0);
  const uint32_t hi1 = static_cast<uint32_t>(product1 >> 32);
  const uint32_t lo1 = static_cast<uint32_t>(product1);
  return PhiloxCounter{{hi1 ^ c.word[1] ^ k.word[0], lo1, hi0 ^ c.word[3] ^ k.word[1], lo0}};
}

KITE_HD PhiloxKey philox_bump_key(PhiloxKey k) {
  return PhiloxKey{{k.word[0] + kPhiloxWeyl0, k.word[1] + kPhiloxWeyl1}};
}

// Ten rounds; the key is bumped between rounds (nine times), as in Random123 and cuRAND.
KITE_HD PhiloxBlock philox4x32_10(PhiloxCounter counter, PhiloxKey key) {
  for (int round = 0; round < kPhiloxRounds - 1; ++round) {
    counter = philox_round(counter, key);
    key = philox_bump_key(key);
  }
  counter = philox_round(counter, key);
  return PhiloxBlock{{counter.word[0], counter.word[1], counter.word[2], counter.word[3]}};
}

// The block that holds stream word `word_index` (block = word_index / 4).
KITE_HD PhiloxBlock philox_block(uint64_t seed, uint64_t subsequence, uint64_t block) {
  return philox4x32_10(philox_counter(block, subsequence), philox_key(seed));
}

// Word `word_index` of the stream: what the (word_index + 1)-th curand() call returns after
// curand_init(seed, subsequence, 0), or the first call after curand_init(seed, subsequence,
// word_index). Computes a whole block; loops over many words should use philox_block.
KITE_HD uint32_t philox_word(uint64_t seed, uint64_t subsequence, uint64_t word_index) {
  return philox_block(seed, subsequence, word_index / 4).word[word_index % 4];
}

// ---- Conversions, following cuRAND's formulas exactly ----

// 2^-32 and 2^-53 are exact in float/double; cuRAND writes them as 2.3283064e-10f and
// 1.1102230246251565e-16, which round to the same values.
inline constexpr float kTwoPowMinus32F = 2.3283064365386963e-10f;
inline constexpr double kTwoPowMinus53 = 1.1102230246251565e-16;
// cuRAND's single-precision 2*pi (6.2831855f) scaled by 2^-32; the scaling is exact.
inline constexpr float kTwoPowMinus32TwoPiF = 2.3283064365386963e-10f * 6.2831855f;

// curand_uniform: x * 2^-32 + 2^-33, computed in float. The result lies in (0, 1]: the
// smallest is 2^-33 (x = 0) and large x round up to exactly 1.0f. 0 never appears, so
// log(u) is always finite. The product is exact, so a fused or unfused multiply-add gives
// the same bits on host and device.
KITE_HD float philox_uniform_float(uint32_t x) {
  return static_cast<float>(x) * kTwoPowMinus32F + kTwoPowMinus32F / 2.0f;
}

// cuRAND's two-word double (curand_uniform2_double / _curand_uniform_double_hq): the 53-bit
// integer z = x ^ (y << 21) maps to z * 2^-53 + 2^-54, in (0, 1]. (cuRAND's single-call
// curand_uniform_double for Philox uses only one word; kite always uses two.)
KITE_HD double philox_uniform_double(uint32_t x, uint32_t y) {
  const uint64_t z = static_cast<uint64_t>(x) ^ (static_cast<uint64_t>(y) << (53 - 32));
  return static_cast<double>(z) * kTwoPowMinus53 + kTwoPowMinus53 / 2.0;
}

struct NormalPairFloat {
  float first;   // radius * sin(angle)
  float second;  // radius * cos(angle)
};

struct NormalPairDouble {
  double first;
  double second;
};

// Box-Muller from two words, as cuRAND's _curand_box_muller: u = uniform(x) in (0, 1],
// angle = y * 2^-32 * 2pi + half a step, radius = sqrt(-2 log u). curand_normal4 turns the
// words (x, y, z, w) of one block into {pair(x, y).first, pair(x, y).second, pair(z,
// w).first, pair(z, w).second}; kite's fills pair consecutive words the same way.
// The angle uses an explicit fma because nvcc contracts cuRAND's `y * c + c / 2` into one;
// that keeps the angle bit-identical across devices. On the device sin/cos are the fast
// __sincosf intrinsic (as in cuRAND), so normals agree across devices to a few ulp, not
// bitwise; uniforms and raw words agree exactly.
KITE_HD NormalPairFloat philox_box_muller_float(uint32_t x, uint32_t y) {
  const float u = philox_uniform_float(x);
  const float angle =
      fmaf(static_cast<float>(y), kTwoPowMinus32TwoPiF, kTwoPowMinus32TwoPiF / 2.0f);
  const float radius = sqrtf(-2.0f * logf(u));
  float sin_angle;
  float cos_angle;
#if defined(__CUDA_ARCH__)
  __sincosf(angle, &sin_angle, &cos_angle);
#else
  sin_angle = sinf(angle);
  cos_angle = cosf(angle);
#endif
  return NormalPairFloat{radius * sin_angle, radius * cos_angle};
}

// Double Box-Muller from four words, as cuRAND's _curand_box_muller_double (used by
// curand_normal2_double): u from (x0, x1), and a turn fraction t = z * 2^-52 + 2^-53 in
// (0, 2] from (y0, y1), angle = pi * t. The device uses sincospi like cuRAND; the host
// multiplies by pi first, so the last bits can differ between devices.
KITE_HD NormalPairDouble philox_box_muller_double(uint32_t x0, uint32_t x1, uint32_t y0,
                                                  uint32_t y1) {
  const double u = philox_uniform_double(x0, x1);
  const uint64_t zy = static_cast<uint64_t>(y0) ^ (static_cast<uint64_t>(y1) << (53 - 32));
  const double half_turns = static_cast<double>(zy) * (kTwoPowMinus53 * 2.0) + kTwoPowMinus53;
  const double radius = sqrt(-2.0 * log(u));
  double sin_angle;
  double cos_angle;
#if defined(__CUDA_ARCH__)
  sincospi(half_turns, &sin_angle, &cos_angle);
#else
  constexpr double kPi = 3.1415926535897932;
  sin_angle = sin(half_turns * kPi);
  cos_angle = cos(half_turns * kPi);
#endif
  return NormalPairDouble{radius * sin_angle, radius * cos_angle};
}

}  // namespace kite
