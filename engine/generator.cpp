// Generator: stream bookkeeping (seed, offset) and the CPU fills built on engine/philox.h.
#include "engine/generator.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>
#include <string_view>

#include "engine/error.h"
#include "engine/parallel.h"
#include "engine/philox.h"

namespace kite {

namespace {

// Elements per tile: each tile draws its words into a small stack buffer, then converts.
// Even, so that the two elements of a Box-Muller pair never straddle tiles.
constexpr int64_t kTileElements = 1024;
// The most words any element kind uses on average (double uniforms and normals use 2).
constexpr int64_t kMaxWordsPerElement = 2;
// Below this many elements, thread start-up costs more than it saves.
constexpr int64_t kParallelMinElements = int64_t{1} << 15;

constexpr std::string_view kStatePrefix = "philox4x32-10 seed=";
constexpr std::string_view kOffsetPrefix = " offset=";

// Writes `count` consecutive words of subsequence 0, starting at word `first_word`.
void stream_words(uint64_t seed, uint64_t first_word, int64_t count, uint32_t* out) {
  uint64_t block = first_word / kPhiloxWordsPerBlock;
  int lane = static_cast<int>(first_word % kPhiloxWordsPerBlock);
  int64_t written = 0;
  while (written < count) {
    const PhiloxBlock words = philox_block(seed, 0, block);
    for (; lane < kPhiloxWordsPerBlock && written < count; ++lane) {
      out[written++] = words.word[lane];
    }
    lane = 0;
    ++block;
  }
}

// How elements are made from words: each group of `words` consecutive words gives
// `elements` consecutive elements.
struct Grouping {
  int64_t words;
  int64_t elements;
};

uint64_t words_needed(int64_t n, Grouping grouping) {
  const int64_t groups = (n + grouping.elements - 1) / grouping.elements;
  return static_cast<uint64_t>(groups) * static_cast<uint64_t>(grouping.words);
}

// Runs convert(words, first, count) over tiles of the n elements, where `words` holds the
// stream words of elements [first, first + count). Tiles are fixed by element index, so the
// output does not depend on how OpenMP spreads them over threads.
template <class Convert>
void fill_tiles(GeneratorState start, int64_t n, Grouping grouping, const Convert& convert) {
  const int64_t tiles = (n + kTileElements - 1) / kTileElements;
  parallel_range(tiles, n >= kParallelMinElements, [&](int64_t begin, int64_t end) {
    for (int64_t tile = begin; tile < end; ++tile) {
      uint32_t words[kTileElements * kMaxWordsPerElement];
      const int64_t first = tile * kTileElements;
      const int64_t count = std::min(kTileElements, n - first);
      const uint64_t first_word =
          start.offset + static_cast<uint64_t>(first / grouping.elements * grouping.words);
      stream_words(start.seed, first_word, static_cast<int64_t>(words_needed(count, grouping)),
                   words);
      convert(words, first, count);
    }
  });
}

void check_count(int64_t n, const char* op) {
  KITE_CHECK(n >= 0, op << ": element count must be non-negative, got " << n);
}

void check_probability(double p, const char* op) {
  KITE_CHECK(p >= 0.0 && p <= 1.0, op << ": probability must lie in [0, 1], got " << p);
}

template <class T>
void copy_normal_pair(T first_value, T second_value, int64_t index, int64_t count, T mean, T std,
                      T* out) {
  out[index] = mean + std * first_value;
  if (index + 1 < count) out[index + 1] = mean + std * second_value;
}

}  // namespace

// ---- GeneratorState ----

std::string GeneratorState::to_string() const {
  std::ostringstream text;
  text << kStatePrefix << seed << kOffsetPrefix << offset;
  return text.str();
}

GeneratorState GeneratorState::from_string(const std::string& text) {
  auto fail = [&text]() {
    KITE_FAIL("GeneratorState::from_string: cannot parse '"
              << text << "', expected '" << kStatePrefix << "<uint64>" << kOffsetPrefix
              << "<uint64>'");
  };
  // Parses a decimal uint64 starting at `pos`, which must end where `stop` begins.
  auto parse_number = [&](size_t pos, std::string_view stop, uint64_t& value) -> size_t {
    const char* begin = text.data() + pos;
    const char* end = text.data() + text.size();
    auto [next, error] = std::from_chars(begin, end, value);
    if (error != std::errc() || next == begin) fail();
    const size_t next_pos = static_cast<size_t>(next - text.data());
    if (std::string_view(text).substr(next_pos, stop.size()) != stop) fail();
    return next_pos + stop.size();
  };
  if (!std::string_view(text).starts_with(kStatePrefix)) fail();
  GeneratorState state;
  const size_t after_seed = parse_number(kStatePrefix.size(), kOffsetPrefix, state.seed);
  const size_t after_offset = parse_number(after_seed, "", state.offset);
  if (after_offset != text.size()) fail();
  return state;
}

// ---- Generator ----

Generator::Generator(uint64_t seed) : state_{seed, 0} {}

uint64_t Generator::seed() const { return state().seed; }

uint64_t Generator::offset() const { return state().offset; }

GeneratorState Generator::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_;
}

void Generator::set_state(const GeneratorState& state) {
  std::lock_guard<std::mutex> lock(mutex_);
  state_ = state;
}

void Generator::manual_seed(uint64_t seed) { set_state(GeneratorState{seed, 0}); }

GeneratorState Generator::advance(uint64_t words) {
  std::lock_guard<std::mutex> lock(mutex_);
  const GeneratorState start = state_;
  if (words == 0) return start;
  const uint64_t block = kPhiloxWordsPerBlock;
  const uint64_t end = start.offset + words;
  KITE_CHECK(end > start.offset && end <= UINT64_MAX - (block - 1),
             "Generator::advance: offset " << start.offset << " + " << words
                                           << " words overflows the 64-bit stream position");
  state_.offset = (end + block - 1) / block * block;
  return start;
}

void Generator::fill(uint32_t* out, int64_t n) {
  check_count(n, "Generator::fill");
  const Grouping grouping{1, 1};
  const GeneratorState start = advance(words_needed(n, grouping));
  fill_tiles(start, n, grouping, [out](const uint32_t* words, int64_t first, int64_t count) {
    std::copy(words, words + count, out + first);
  });
}

void Generator::fill_uniform(float* out, int64_t n, float lo, float hi) {
  check_count(n, "Generator::fill_uniform");
  const Grouping grouping{1, 1};
  const GeneratorState start = advance(words_needed(n, grouping));
  const float range = hi - lo;
  fill_tiles(start, n, grouping, [=](const uint32_t* words, int64_t first, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      out[first + i] = lo + range * philox_uniform_float(words[i]);
    }
  });
}

void Generator::fill_uniform(double* out, int64_t n, double lo, double hi) {
  check_count(n, "Generator::fill_uniform");
  const Grouping grouping{2, 1};
  const GeneratorState start = advance(words_needed(n, grouping));
  const double range = hi - lo;
  fill_tiles(start, n, grouping, [=](const uint32_t* words, int64_t first, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      out[first + i] = lo + range * philox_uniform_double(words[2 * i], words[2 * i + 1]);
    }
  });
}

void Generator::fill_normal(float* out, int64_t n, float mean, float std) {
  check_count(n, "Generator::fill_normal");
  const Grouping grouping{2, 2};
  const GeneratorState start = advance(words_needed(n, grouping));
  fill_tiles(start, n, grouping, [=](const uint32_t* words, int64_t first, int64_t count) {
    for (int64_t i = 0; i < count; i += 2) {
      const NormalPairFloat pair = philox_box_muller_float(words[i], words[i + 1]);
      copy_normal_pair(pair.first, pair.second, i, count, mean, std, out + first);
    }
  });
}

void Generator::fill_normal(double* out, int64_t n, double mean, double std) {
  check_count(n, "Generator::fill_normal");
  const Grouping grouping{4, 2};
  const GeneratorState start = advance(words_needed(n, grouping));
  fill_tiles(start, n, grouping, [=](const uint32_t* words, int64_t first, int64_t count) {
    for (int64_t i = 0; i < count; i += 2) {
      const uint32_t* group = words + 2 * i;
      const NormalPairDouble pair =
          philox_box_muller_double(group[0], group[1], group[2], group[3]);
      copy_normal_pair(pair.first, pair.second, i, count, mean, std, out + first);
    }
  });
}

void Generator::fill_bernoulli(float* out, int64_t n, double p) {
  check_count(n, "Generator::fill_bernoulli");
  check_probability(p, "Generator::fill_bernoulli");
  const Grouping grouping{1, 1};
  const GeneratorState start = advance(words_needed(n, grouping));
  fill_tiles(start, n, grouping, [=](const uint32_t* words, int64_t first, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      out[first + i] = static_cast<double>(philox_uniform_float(words[i])) <= p ? 1.0f : 0.0f;
    }
  });
}

void Generator::fill_bernoulli(double* out, int64_t n, double p) {
  check_count(n, "Generator::fill_bernoulli");
  check_probability(p, "Generator::fill_bernoulli");
  const Grouping grouping{2, 1};
  const GeneratorState start = advance(words_needed(n, grouping));
  fill_tiles(start, n, grouping, [=](const uint32_t* words, int64_t first, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      out[first + i] = philox_uniform_double(words[2 * i], words[2 * i + 1]) <= p ? 1.0 : 0.0;
    }
  });
}

// ---- The process-wide generator ----

Generator& default_generator() {
  static Generator generator(Generator::kDefaultSeed);
  return generator;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace kite
