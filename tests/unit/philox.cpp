// Philox4x32-10 and the Generator: Random123 known answers, cuRAND's stream layout and
// conversions, offset bookkeeping, thread-count independence, distribution moments, state.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "engine/error.h"
#include "engine/generator.h"
#include "engine/philox.h"

namespace kite {
namespace {

// ---- Known answers ----

struct KnownAnswer {
  PhiloxCounter counter;
  PhiloxKey key;
  PhiloxBlock expected;
};

// The three "philox4x32 10" lines of Random123's tests/kat_vectors (counter, key, output).
TEST(Philox, Random123KnownAnswers) {
  const KnownAnswer answers[] = {
      {{{0x00000000, 0x00000000, 0x00000000, 0x00000000}},
       {{0x00000000, 0x00000000}},
       {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
       {{0xffffffff, 0xffffffff}},
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
       {{0xa4093822, 0x299f31d0}},
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const KnownAnswer& answer : answers) {
    const PhiloxBlock out = philox4x32_10(answer.counter, answer.key);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(out.word[i], answer.expected.word[i])
          << "word " << i << " for counter word0 0x" << std::hex << answer.counter.word[0];
    }
  }
}

// ---- cuRAND layout ----
//
// Expected words below were produced by NVIDIA's own curand_kernel.h (CUDA 13.0), compiled
// for the host with QUALIFIERS redefined, calling curand_init(seed, subsequence, offset) and
// then curand() repeatedly; see tests/reference/README.md. They are reference data from an
// independent implementation, not outputs of kite.

struct CurandStream {
  uint64_t seed;
  uint64_t offset;
  std::vector<uint32_t> words;
};

const std::vector<CurandStream>& curand_streams() {
  static const std::vector<CurandStream> streams = {
      {0, 0, {1713891541u, 3781805453u, 3159862348u, 2600524760u, 4175744164u, 1555169499u}},
      {0, 5, {1555169499u, 2980410603u, 159317863u, 83534633u, 1372009126u, 605361069u}},
      {42, 1000003, {2574484092u, 1115798065u, 1212422668u, 1452414912u, 418770846u, 91542518u}},
      // Offset past 2^34 words: the block index spills into counter word 1.
      {42,
       (uint64_t{1} << 34) + 7,
       {3667180301u, 230179720u, 362739600u, 2473070830u, 4175661228u, 2316308015u}},
      // A seed above 2^32: key word 1 is in use.
      {0x123456789abcdef0ull,
       8,
       {2231998487u, 827554127u, 2762918259u, 1439246193u, 4144535196u, 1652001810u}},
  };
  return streams;
}

TEST(Philox, WordsMatchCurandStream) {
  for (const CurandStream& stream : curand_streams()) {
    for (size_t i = 0; i < stream.words.size(); ++i) {
      EXPECT_EQ(philox_word(stream.seed, 0, stream.offset + i), stream.words[i])
          << "seed " << stream.seed << " offset " << stream.offset << " word " << i;
    }
  }
}

TEST(Philox, SubsequenceMatchesCurand) {
  // curand_init(7, 3, 6): subsequence 3 lives in counter words 2-3.
  const uint32_t expected[] = {306199026u,  2242816996u, 1601570834u,
                               3942584944u, 1292637174u, 1476451061u};
  for (uint64_t i = 0; i < 6; ++i) EXPECT_EQ(philox_word(7, 3, 6 + i), expected[i]) << i;
  EXPECT_NE(philox_word(7, 3, 6), philox_word(7, 0, 6));
}

TEST(Generator, RawFillMatchesCurandStream) {
  for (const CurandStream& stream : curand_streams()) {
    Generator generator;
    generator.set_state({stream.seed, stream.offset});
    std::vector<uint32_t> words(stream.words.size());
    generator.fill(words.data(), static_cast<int64_t>(words.size()));
    EXPECT_EQ(words, stream.words) << "seed " << stream.seed << " offset " << stream.offset;
  }
}

// ---- Conversions ----

TEST(Philox, UniformFloatEndpoints) {
  EXPECT_EQ(philox_uniform_float(0), std::ldexp(1.0f, -33));
  EXPECT_EQ(philox_uniform_float(0xffffffffu), 1.0f);
  EXPECT_EQ(philox_uniform_float(0x80000000u), 0.5f);
  for (uint32_t x : {1u, 12345u, 0x7fffffffu, 0xfffffeffu}) {
    const float u = philox_uniform_float(x);
    EXPECT_GT(u, 0.0f);
    EXPECT_LE(u, 1.0f);
  }
}

TEST(Philox, UniformDoubleEndpoints) {
  EXPECT_EQ(philox_uniform_double(0, 0), std::ldexp(1.0, -54));
  // z = x ^ (y << 21) = 2^53 - 1 for these words; the result rounds to exactly 1.
  EXPECT_EQ(philox_uniform_double(0x001fffffu, 0xffffffffu), 1.0);
  // Words mix through the xor, not a plain concatenation: y's low 11 bits meet x's top bits.
  EXPECT_EQ(philox_uniform_double(0xffffffffu, 0xffffffffu),
            static_cast<double>(0xffffffffull ^ (0xffffffffull << 21)) * std::ldexp(1.0, -53) +
                std::ldexp(1.0, -54));
}

TEST(Philox, BoxMullerRadiusAndAngle) {
  for (uint32_t x : {0u, 7u, 0x40000000u, 0xfffffff0u}) {
    for (uint32_t y : {0u, 0x40000000u, 0x80000000u, 0xc0000000u}) {
      const NormalPairFloat pair = philox_box_muller_float(x, y);
      const double radius_squared = -2.0 * std::log(static_cast<double>(philox_uniform_float(x)));
      EXPECT_NEAR(pair.first * pair.first + pair.second * pair.second, radius_squared,
                  1e-5 * (1.0 + radius_squared));
      const NormalPairDouble pair_double = philox_box_muller_double(x, 0, y, 0);
      const double u = philox_uniform_double(x, 0);
      EXPECT_NEAR(pair_double.first * pair_double.first + pair_double.second * pair_double.second,
                  -2.0 * std::log(u), 1e-12 * (1.0 - 2.0 * std::log(u)));
    }
  }
  // y = 2^30 is a quarter turn (plus half a step): sin ~ 1, cos ~ 0.
  const NormalPairFloat quarter = philox_box_muller_float(0x80000000u, 0x40000000u);
  const float radius = std::sqrt(-2.0f * std::log(0.5f));
  EXPECT_NEAR(quarter.first, radius, 1e-6);
  EXPECT_NEAR(quarter.second, 0.0f, 1e-6);
}

// Uniforms from cuRAND (seed 42, offset 0): curand_uniform and curand_uniform2_double.
TEST(Generator, UniformsMatchCurand) {
  const float expected_float[] = {0.612959862f, 0.468586504f, 0.0732317343f, 0.340861559f,
                                  0.987718642f, 0.327063382f, 0.513906121f,  0.454315603f};
  const double expected_double[] = {0.46858679418029187, 0.34086151490420996, 0.3270632689464365,
                                    0.45431535865175282};
  Generator generator(42);
  float floats[8];
  generator.fill_uniform(floats, 8);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(floats[i], expected_float[i]) << i;
  generator.manual_seed(42);
  double doubles[4];
  generator.fill_uniform(doubles, 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(doubles[i], expected_double[i]) << i;
}

// Normals from cuRAND (seed 42, offset 0): curand_normal4 and curand_normal2_double. Float
// angles here are computed with a fused multiply-add (as nvcc does on the device), cuRAND's
// host path without, so the last bits may differ; 1e-5 is still far below any real change.
TEST(Generator, NormalsMatchCurand) {
  const float expected_float[] = {0.194018871f, -0.97018981f,   1.92392659f,  -1.23562121f,
                                  0.139137551f, -0.0731815323f, 0.326682925f, -1.10666513f};
  const double expected_double[] = {1.0360235505368471,  -0.6653743849976409,  0.42328043627196804,
                                    -1.4338887543449035, -0.90438682055941433, 0.13500668202983915,
                                    0.61548271881036831, -0.64824993622351201};
  Generator generator(42);
  float floats[8];
  generator.fill_normal(floats, 8);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(floats[i], expected_float[i], 1e-5) << i;
  generator.manual_seed(42);
  double doubles[8];
  generator.fill_normal(doubles, 8);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(doubles[i], expected_double[i], 1e-12) << i;
}

// ---- Offset bookkeeping ----

TEST(Generator, RawFillFollowsStreamAcrossTilesFromUnalignedOffset) {
  const int64_t n = 5003;  // several tiles, ragged end
  Generator generator;
  generator.set_state({99, 6});
  std::vector<uint32_t> words(n);
  generator.fill(words.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(words[i], philox_word(99, 0, 6 + static_cast<uint64_t>(i))) << i;
  }
  EXPECT_EQ(generator.offset(), 5012u);  // 6 + 5003 = 5009, rounded up to a block
}

TEST(Generator, SplitFillEqualsOneFillWhenBlockAligned) {
  Generator whole(7);
  std::vector<float> expected(36);
  whole.fill_normal(expected.data(), 36);

  Generator split(7);
  std::vector<float> parts(36);
  split.fill_normal(parts.data(), 12);  // 12 words: three whole blocks
  split.fill_normal(parts.data() + 12, 24);
  EXPECT_EQ(parts, expected);
  EXPECT_EQ(split.offset(), whole.offset());
  EXPECT_EQ(whole.offset(), 36u);
}

TEST(Generator, SecondCallStartsAtNextBlock) {
  Generator reference(3);
  std::vector<uint32_t> stream(24);
  reference.fill(stream.data(), 24);

  Generator generator(3);
  std::vector<uint32_t> first(10), second(6);
  generator.fill(first.data(), 10);
  EXPECT_EQ(generator.offset(), 12u);  // 10 words rounded up to 3 blocks
  generator.fill(second.data(), 6);
  EXPECT_EQ(generator.offset(), 20u);
  EXPECT_TRUE(std::equal(first.begin(), first.end(), stream.begin()));
  EXPECT_TRUE(std::equal(second.begin(), second.end(), stream.begin() + 12));
}

TEST(Generator, WordsConsumedPerKind) {
  struct Case {
    const char* kind;
    int64_t n;
    uint64_t expected_offset;
  };
  auto offset_after = [](const std::string& kind, int64_t n) {
    Generator generator(1);
    std::vector<float> floats(n);
    std::vector<double> doubles(n);
    if (kind == "uniform_float") generator.fill_uniform(floats.data(), n);
    if (kind == "uniform_double") generator.fill_uniform(doubles.data(), n);
    if (kind == "normal_float") generator.fill_normal(floats.data(), n);
    if (kind == "normal_double") generator.fill_normal(doubles.data(), n);
    if (kind == "bernoulli_float") generator.fill_bernoulli(floats.data(), n, 0.5);
    if (kind == "bernoulli_double") generator.fill_bernoulli(doubles.data(), n, 0.5);
    return generator.offset();
  };
  const Case cases[] = {
      {"uniform_float", 5, 8},    // 5 words
      {"uniform_double", 5, 12},  // 10 words
      {"normal_float", 5, 8},     // 3 pairs of 2 words
      {"normal_float", 8, 8},     // 4 pairs
      {"normal_double", 3, 8},    // 2 pairs of 4 words
      {"normal_double", 5, 12},   // 3 pairs
      {"bernoulli_float", 9, 12}, {"bernoulli_double", 3, 8},
      {"uniform_float", 0, 0},  // nothing drawn, nothing consumed
  };
  for (const Case& c : cases) {
    EXPECT_EQ(offset_after(c.kind, c.n), c.expected_offset) << c.kind << " n=" << c.n;
  }
}

TEST(Generator, OddNormalCountIsPrefixOfEvenCount) {
  Generator odd(11), even(11);
  std::vector<double> a(7), b(8);
  odd.fill_normal(a.data(), 7);
  even.fill_normal(b.data(), 8);
  EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin()));
}

TEST(Generator, AdvanceReservesRangeForExternalFill) {
  Generator generator(5);
  generator.set_state({5, 4});
  const GeneratorState start = generator.advance(9);
  EXPECT_EQ(start, (GeneratorState{5, 4}));
  EXPECT_EQ(generator.offset(), 16u);
  EXPECT_EQ(generator.advance(0), (GeneratorState{5, 16}));
  EXPECT_EQ(generator.offset(), 16u);
}

// ---- Determinism under threading ----

template <class T, class Fill>
std::vector<T> fill_with_threads(int threads, int64_t n, Fill fill) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  std::vector<T> out(n);
  Generator generator(2024);
  generator.set_state({2024, 4});
  fill(generator, out.data(), n);
  omp_set_num_threads(saved);
  return out;
}

TEST(Generator, ResultsIndependentOfThreadCount) {
  const int64_t n = (int64_t{1} << 17) + 7;  // above the parallel threshold, ragged end
  auto uniform_float = [](Generator& g, float* out, int64_t n) { g.fill_uniform(out, n, -1, 2); };
  auto normal_float = [](Generator& g, float* out, int64_t n) { g.fill_normal(out, n); };
  auto normal_double = [](Generator& g, double* out, int64_t n) { g.fill_normal(out, n); };
  auto uniform_double = [](Generator& g, double* out, int64_t n) { g.fill_uniform(out, n); };
  auto raw = [](Generator& g, uint32_t* out, int64_t n) { g.fill(out, n); };
  for (int threads : {2, 3, 4}) {
    EXPECT_EQ(fill_with_threads<float>(1, n, uniform_float),
              fill_with_threads<float>(threads, n, uniform_float));
    EXPECT_EQ(fill_with_threads<float>(1, n, normal_float),
              fill_with_threads<float>(threads, n, normal_float));
    EXPECT_EQ(fill_with_threads<double>(1, n, normal_double),
              fill_with_threads<double>(threads, n, normal_double));
    EXPECT_EQ(fill_with_threads<double>(1, n, uniform_double),
              fill_with_threads<double>(threads, n, uniform_double));
    EXPECT_EQ(fill_with_threads<uint32_t>(1, n, raw), fill_with_threads<uint32_t>(threads, n, raw));
  }
}

TEST(Generator, ConcurrentFillsDrawDisjointRanges) {
  const int threads = 4, calls = 25, words_per_call = 1000;  // a multiple of the block size
  Generator generator(77);
  std::vector<std::vector<uint32_t>> drawn(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t]() {
      std::vector<uint32_t> words(words_per_call);
      for (int c = 0; c < calls; ++c) {
        generator.fill(words.data(), words_per_call);
        drawn[t].insert(drawn[t].end(), words.begin(), words.end());
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  const int64_t total = int64_t{threads} * calls * words_per_call;
  EXPECT_EQ(generator.offset(), static_cast<uint64_t>(total));

  std::vector<uint32_t> all;
  for (const auto& part : drawn) all.insert(all.end(), part.begin(), part.end());
  std::vector<uint32_t> stream(total);
  Generator reference(77);
  reference.fill(stream.data(), total);
  std::sort(all.begin(), all.end());
  std::sort(stream.begin(), stream.end());
  EXPECT_EQ(all, stream);  // every word of the range drawn exactly once
}

// ---- Distributions ----
// Bounds are 5 standard errors of the estimate, so a correct generator fails with
// probability below 1e-6 per check; the seeds are fixed, so the tests are deterministic.

struct Moments {
  double mean;
  double variance;
};

template <class T>
Moments moments(const std::vector<T>& values) {
  double sum = 0;
  for (T v : values) sum += v;
  const double mean = sum / values.size();
  double squares = 0;
  for (T v : values) squares += (v - mean) * (v - mean);
  return {mean, squares / (values.size() - 1)};
}

TEST(Generator, UniformFloatRangeAndMoments) {
  const int64_t n = 1 << 20;
  const float lo = -2.0f, hi = 3.0f;
  std::vector<float> values(n);
  Generator(123).fill_uniform(values.data(), n, lo, hi);
  EXPECT_GE(*std::min_element(values.begin(), values.end()), lo);
  EXPECT_LE(*std::max_element(values.begin(), values.end()), hi);
  const Moments m = moments(values);
  const double width = hi - lo;
  const double variance = width * width / 12.0;
  // Var of the sample mean: variance / n; of the sample variance: (mu4 - variance^2) / n
  // with mu4 = width^4 / 80 for a uniform.
  EXPECT_NEAR(m.mean, 0.5, 5 * std::sqrt(variance / n));
  EXPECT_NEAR(m.variance, variance,
              5 * std::sqrt((std::pow(width, 4) / 80.0 - variance * variance) / n));
}

TEST(Generator, UniformDoubleRangeAndMoments) {
  const int64_t n = 1 << 19;
  std::vector<double> values(n);
  Generator(321).fill_uniform(values.data(), n);
  EXPECT_GT(*std::min_element(values.begin(), values.end()), 0.0);
  EXPECT_LE(*std::max_element(values.begin(), values.end()), 1.0);
  const Moments m = moments(values);
  EXPECT_NEAR(m.mean, 0.5, 5 * std::sqrt(1.0 / 12.0 / n));
  EXPECT_NEAR(m.variance, 1.0 / 12.0, 5 * std::sqrt((1.0 / 80.0 - 1.0 / 144.0) / n));
}

template <class T>
void check_normal(const std::vector<T>& values, double mean, double std) {
  const double n = static_cast<double>(values.size());
  const Moments m = moments(values);
  EXPECT_NEAR(m.mean, mean, 5 * std / std::sqrt(n));
  // Var of the sample variance of a normal: 2 sigma^4 / n.
  EXPECT_NEAR(m.variance, std * std, 5 * std::sqrt(2.0 / n) * std * std);
  // Shape, not just two moments: the mass within one sigma is 0.682689.
  double inside = 0;
  for (T v : values) inside += std::abs(v - mean) <= std ? 1 : 0;
  const double p = 0.682689492137;
  EXPECT_NEAR(inside / n, p, 5 * std::sqrt(p * (1 - p) / n));
  for (T v : values) ASSERT_TRUE(std::isfinite(v));
}

TEST(Generator, NormalFloatMoments) {
  const int64_t n = 1 << 20;
  std::vector<float> values(n);
  Generator(555).fill_normal(values.data(), n, 1.5f, 2.0f);
  check_normal(values, 1.5, 2.0);
}

TEST(Generator, NormalDoubleMoments) {
  const int64_t n = 1 << 19;
  std::vector<double> values(n);
  Generator(556).fill_normal(values.data(), n, -0.5, 0.25);
  check_normal(values, -0.5, 0.25);
}

// The two halves of a Box-Muller pair must be uncorrelated.
TEST(Generator, NormalPairsUncorrelated) {
  const int64_t n = 1 << 20;
  std::vector<float> values(n);
  Generator(557).fill_normal(values.data(), n);
  double product = 0;
  for (int64_t i = 0; i < n; i += 2) product += double(values[i]) * values[i + 1];
  const double pairs = n / 2.0;
  EXPECT_NEAR(product / pairs, 0.0, 5.0 / std::sqrt(pairs));
}

template <class T>
void check_bernoulli(double p, uint64_t seed) {
  const int64_t n = 1 << 18;
  std::vector<T> values(n, T(-1));
  Generator(seed).fill_bernoulli(values.data(), n, p);
  double ones = 0;
  for (T v : values) {
    ASSERT_TRUE(v == T(0) || v == T(1)) << v;
    ones += v;
  }
  EXPECT_NEAR(ones / n, p, 5 * std::sqrt(p * (1 - p) / n) + 1e-12) << "p=" << p;
}

TEST(Generator, BernoulliFrequencies) {
  for (double p : {0.0, 0.05, 0.3, 0.5, 1.0}) {
    check_bernoulli<float>(p, 900);
    check_bernoulli<double>(p, 901);
  }
}

// ---- State ----

TEST(Generator, SaveAndRestoreState) {
  Generator generator(8);
  std::vector<float> warmup(13);
  generator.fill_uniform(warmup.data(), 13);
  const GeneratorState saved = generator.state();
  std::vector<double> first(100), second(100);
  generator.fill_normal(first.data(), 100);
  generator.set_state(saved);
  generator.fill_normal(second.data(), 100);
  EXPECT_EQ(first, second);

  Generator restored;
  restored.from_string(generator.to_string());
  EXPECT_EQ(restored.state(), generator.state());
}

TEST(Generator, StateStringRoundTrip) {
  const GeneratorState state{0xfedcba9876543210ull, 0xffffffffffffff00ull};
  const std::string text = state.to_string();
  EXPECT_EQ(text, "philox4x32-10 seed=18364758544493064720 offset=18446744073709551360");
  EXPECT_EQ(GeneratorState::from_string(text), state);
}

TEST(Generator, StateStringRejectsGarbage) {
  for (const std::string text :
       {"", "philox4x32-10 seed=1", "philox4x32-10 seed=1 offset=", "philox4x32-10 seed=x offset=2",
        "philox4x32-10 seed=1 offset=2 ", "philox4x32-10 seed=-1 offset=2",
        "philox4x32-10 seed=18446744073709551616 offset=0", "mt19937 seed=1 offset=2"}) {
    try {
      GeneratorState::from_string(text);
      ADD_FAILURE() << "accepted '" << text << "'";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("'" + text + "'"), std::string::npos)
          << error.what();
    }
  }
}

TEST(Generator, DefaultGeneratorAndManualSeed) {
  manual_seed(31337);
  EXPECT_EQ(default_generator().state(), (GeneratorState{31337, 0}));
  std::vector<float> from_default(10), from_fresh(10);
  default_generator().fill_uniform(from_default.data(), 10);
  Generator(31337).fill_uniform(from_fresh.data(), 10);
  EXPECT_EQ(from_default, from_fresh);
  EXPECT_EQ(&default_generator(), &default_generator());
}

TEST(Generator, DifferentSeedsDiffer) {
  std::vector<uint32_t> a(64), b(64);
  Generator(1).fill(a.data(), 64);
  Generator(2).fill(b.data(), 64);
  int equal = 0;
  for (int i = 0; i < 64; ++i) equal += a[i] == b[i];
  EXPECT_LT(equal, 2);
}

TEST(Generator, RejectsBadArguments) {
  Generator generator;
  float value;
  EXPECT_THROW(generator.fill_uniform(&value, -1), Error);
  EXPECT_THROW(generator.fill_bernoulli(&value, 1, 1.5), Error);
  EXPECT_THROW(generator.fill_bernoulli(&value, 1, -0.1), Error);
  EXPECT_THROW(generator.fill_bernoulli(&value, 1, std::nan("")), Error);
  EXPECT_EQ(generator.offset(), 0u);  // failed calls consume nothing
}

}  // namespace
}  // namespace kite
