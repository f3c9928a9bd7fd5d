// The random number generator: a (seed, offset) pair naming a position in a Philox4x32-10
// stream (see engine/philox.h), and fills of raw buffers with uniform, normal, Bernoulli
// and raw 32-bit numbers.
//
// The offset counts 32-bit words of the stream, as cuRAND's curand_init offset does (with
// subsequence 0). Every fill takes a contiguous range of words starting at the current
// offset, then advances the offset past that range, rounded up to a whole 4-word Philox
// block. So element i of a fill depends only on (seed, offset at the call's start, i): the
// result does not depend on the OpenMP thread count, and a CUDA kernel given the same seed
// and start offset (see Generator::advance) draws the same raw words.
//
// Words used per element:
//   raw            1 word: word i.
//   uniform float  1 word  (curand_uniform).
//   uniform double 2 words (curand_uniform2_double): words 2i, 2i+1.
//   normal float   Box-Muller on words (2j, 2j+1) gives elements 2j and 2j+1
//                  (curand_normal4's pairing); an odd count still uses the last pair.
//   normal double  Box-Muller on words 4j..4j+3 gives elements 2j and 2j+1
//                  (curand_normal2_double).
//   bernoulli      as uniform of the same precision: 1 if u <= p, else 0. Since u lies in
//                  (0, 1], p = 0 never fires and p = 1 always does.
//
// Thread safety: the offset advance is taken under a mutex, so concurrent fills from one
// generator draw disjoint ranges (which thread gets which range is up to the scheduler).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

namespace kite {

struct GeneratorState {
  uint64_t seed = 0;
  uint64_t offset = 0;  // in 32-bit words of the Philox stream

  // "philox4x32-10 seed=<decimal> offset=<decimal>": a string for checkpoint metadata.
  std::string to_string() const;
  // Parses to_string's format; throws kite::Error naming the text on anything else.
  static GeneratorState from_string(const std::string& text);

  bool operator==(const GeneratorState&) const = default;
};

class Generator {
 public:
  static constexpr uint64_t kDefaultSeed = 0;

  explicit Generator(uint64_t seed = kDefaultSeed);

  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  uint64_t seed() const;
  uint64_t offset() const;
  GeneratorState state() const;
  void set_state(const GeneratorState& state);
  // Restart the stream of `seed` from offset 0.
  void manual_seed(uint64_t seed);

  std::string to_string() const { return state().to_string(); }
  void from_string(const std::string& text) { set_state(GeneratorState::from_string(text)); }

  // Reserve `words` words for a caller that generates them itself (a CUDA kernel): returns
  // the state at the start of the range and advances the offset as a fill would.
  GeneratorState advance(uint64_t words);

  // Uniform in (lo, hi] up to rounding: lo + (hi - lo) * u with u in (0, 1]. (In floating
  // point lo itself can appear when hi - lo is small next to lo.)
  void fill_uniform(float* out, int64_t n, float lo = 0.0f, float hi = 1.0f);
  void fill_uniform(double* out, int64_t n, double lo = 0.0, double hi = 1.0);
  // mean + std * z with z standard normal (Box-Muller).
  void fill_normal(float* out, int64_t n, float mean = 0.0f, float std = 1.0f);
  void fill_normal(double* out, int64_t n, double mean = 0.0, double std = 1.0);
  // 1 with probability p, else 0. p must lie in [0, 1].
  void fill_bernoulli(float* out, int64_t n, double p);
  void fill_bernoulli(double* out, int64_t n, double p);
  // The raw stream words.
  void fill(uint32_t* out, int64_t n);

 private:
  mutable std::mutex mutex_;
  GeneratorState state_;
};

// The process-wide generator used when no generator is passed explicitly.
Generator& default_generator();
// Reseed the default generator (offset back to 0).
void manual_seed(uint64_t seed);

}  // namespace kite
