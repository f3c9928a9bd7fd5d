// Deterministic mutation fuzzing of the decoders: thousands of damaged copies of valid PNG,
// JPEG, IDX (plain and gzipped) and CIFAR-10 data. Each must decode to a consistent image
// or throw kite::Error: no crash, no hang, no other exception, no read out of bounds (run
// under -DKITE_SANITIZE=ON to have AddressSanitizer check the last point).
#include <gtest/gtest.h>

#include <zlib.h>

#include <chrono>
#include <functional>

#include "data/cifar10.h"
#include "data/gzip.h"
#include "data/idx.h"
#include "data/image_file.h"
#include "data/png_writer.h"
#include "data/shapes.h"
#include "tests/unit/data_test_util.h"

namespace kite::data {
namespace {

using test::fixture;

// A counter-based stream of random numbers (splitmix64 of seed and counter).
class Random {
 public:
  explicit Random(uint64_t seed) : seed_(seed) {}
  uint64_t next() { return hash_counter(seed_, counter_++); }
  size_t below(size_t n) { return n ? next() % n : 0; }

 private:
  uint64_t seed_, counter_ = 0;
};

// Recomputes the CRC of every complete PNG chunk, so damage reaches the decoder's inner
// layers (zlib, filters, interlacing) instead of stopping at the checksum.
void fix_png_crcs(std::vector<uint8_t>& bytes) {
  size_t at = 8;
  while (at + 12 <= bytes.size()) {
    const uint32_t length = (uint32_t{bytes[at]} << 24) | (uint32_t{bytes[at + 1]} << 16) |
                            (uint32_t{bytes[at + 2]} << 8) | bytes[at + 3];
    if (length > bytes.size() - at - 12) break;
    const uint32_t crc = static_cast<uint32_t>(crc32(0, bytes.data() + at + 4, length + 4));
    for (int i = 0; i < 4; ++i)
      bytes[at + 8 + length + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
    at += 12 + length;
  }
}

std::vector<uint8_t> mutate(const std::vector<uint8_t>& original, Random& random) {
  std::vector<uint8_t> bytes = original;
  const int edits = 1 + static_cast<int>(random.below(4));
  for (int e = 0; e < edits && !bytes.empty(); ++e) {
    const size_t at = random.below(bytes.size());
    switch (random.below(7)) {
      case 0:
        bytes[at] ^= static_cast<uint8_t>(1u << random.below(8));
        break;  // flip a bit
      case 1:
        bytes[at] = static_cast<uint8_t>(random.next());
        break;  // random byte
      case 2:
        bytes.resize(at);
        break;  // truncate
      case 3:
        bytes.insert(bytes.begin() + at, static_cast<uint8_t>(random.next()));
        break;
      case 4:
        bytes.erase(bytes.begin() + at);
        break;
      case 5: {  // an extreme 32-bit value, e.g. over a size or dimension field
        static constexpr uint32_t kExtremes[] = {0, 1, 0x7fffffff, 0xffffffff, 0x10000};
        const uint32_t value = kExtremes[random.below(5)];
        for (size_t i = 0; i < 4 && at + i < bytes.size(); ++i)
          bytes[at + i] = static_cast<uint8_t>(value >> (24 - 8 * i));
        break;
      }
      default: {  // copy a slice over another place
        const size_t from = random.below(bytes.size());
        const size_t length = std::min(random.below(16) + 1, bytes.size() - std::max(from, at));
        std::copy(bytes.begin() + from, bytes.begin() + from + length, bytes.begin() + at);
      }
    }
  }
  return bytes;
}

struct Outcome {
  int parsed = 0, rejected = 0;
};

// Runs `decode` on `count` mutants of `original`; any exception but kite::Error fails.
Outcome fuzz(const std::string& what, const std::vector<uint8_t>& original, int count,
             uint64_t seed, const std::function<void(const std::vector<uint8_t>&)>& decode,
             const std::function<void(std::vector<uint8_t>&)>& repair = nullptr) {
  Random random(seed);
  Outcome outcome;
  for (int i = 0; i < count; ++i) {
    std::vector<uint8_t> bytes = mutate(original, random);
    if (repair && (i % 2)) repair(bytes);
    try {
      decode(bytes);
      ++outcome.parsed;
    } catch (const kite::Error&) {
      ++outcome.rejected;
    } catch (const std::exception& other) {
      ADD_FAILURE() << what << " mutant " << i << " threw a non-kite exception: " << other.what();
    }
  }
  return outcome;
}

void decode_and_check(const std::vector<uint8_t>& bytes) {
  const Image image = decode_image(bytes.data(), bytes.size(), "mutant");
  ASSERT_TRUE(image.c == 1 || image.c == 3);
  ASSERT_EQ(image.pixels.size(), size_t(image.c * image.h * image.w));
}

TEST(DataFuzz, Png) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<uint8_t> shapes_png;
  {
    const ImageSet one = ShapesDataset(16).generate(5000, 1);
    shapes_png = encode_png(1, 16, 16, one.pixels.data());
  }
  Outcome total;
  uint64_t seed = 1;
  for (const auto& original : {test::read_bytes(fixture("png/rgb8_interlaced.png")),
                               test::read_bytes(fixture("png/palette8_trns.png")),
                               test::read_bytes(fixture("png/rgba16.png")),
                               test::read_bytes(fixture("png/gray1.png")), shapes_png}) {
    ASSERT_FALSE(original.empty());
    const Outcome o = fuzz("png", original, 2000, seed++, decode_and_check, fix_png_crcs);
    total.parsed += o.parsed;
    total.rejected += o.rejected;
  }
  // Both outcomes must occur, or the mutations are not reaching the decoder.
  EXPECT_GT(total.parsed, 100);
  EXPECT_GT(total.rejected, 5000);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("seconds", std::to_string(seconds));
  std::printf("png: %d parsed, %d rejected, %.2f s\n", total.parsed, total.rejected, seconds);
}

TEST(DataFuzz, Jpeg) {
  Outcome total;
  uint64_t seed = 100;
  for (const auto& original : {test::read_bytes(fixture("jpeg/rgb.jpg")),
                               test::read_bytes(fixture("jpeg/rgb_progressive.jpg")),
                               test::read_bytes(fixture("jpeg/gray.jpg"))}) {
    const Outcome o = fuzz("jpeg", original, 1500, seed++, decode_and_check);
    total.parsed += o.parsed;
    total.rejected += o.rejected;
  }
  EXPECT_GT(total.parsed, 100);
  EXPECT_GT(total.rejected, 1000);
  std::printf("jpeg: %d parsed, %d rejected\n", total.parsed, total.rejected);
}

TEST(DataFuzz, IdxPlainAndGzipped) {
  const auto parse = [](const std::vector<uint8_t>& bytes) {
    std::vector<uint8_t> raw = bytes;
    if (looks_gzipped(bytes.data(), bytes.size()))
      raw = gunzip(bytes.data(), bytes.size(), "mutant");
    const ImageSet set = parse_idx_images(raw, "mutant");
    ASSERT_EQ(set.pixels.size(), size_t(set.n * set.h * set.w));
  };
  const Outcome plain =
      fuzz("idx", test::read_bytes(fixture("idx/tiny-images-idx3-ubyte")), 1500, 7, parse);
  const Outcome gz =
      fuzz("idx.gz", test::read_bytes(fixture("idx/tiny-images-idx3-ubyte.gz")), 1500, 8, parse);
  const Outcome labels =
      fuzz("labels", test::read_bytes(fixture("idx/tiny-labels-idx1-ubyte")), 500, 9,
           [](const std::vector<uint8_t>& bytes) { parse_idx_labels(bytes, "mutant"); });
  EXPECT_GT(plain.parsed, 50);
  EXPECT_GT(plain.rejected, 500);
  EXPECT_GT(gz.rejected, 500);
  EXPECT_GT(labels.rejected, 100);
  std::printf("idx: %d/%d plain, %d/%d gz, %d/%d labels (parsed/rejected)\n", plain.parsed,
              plain.rejected, gz.parsed, gz.rejected, labels.parsed, labels.rejected);
}

TEST(DataFuzz, Cifar10) {
  const Outcome o = fuzz("cifar", test::read_bytes(fixture("cifar10/data_batch_3.bin")), 500, 11,
                         [](const std::vector<uint8_t>& bytes) {
                           const ImageSet set = parse_cifar10_batch(bytes, "mutant");
                           ASSERT_EQ(set.labels.size(), size_t(set.n));
                         });
  EXPECT_GT(o.parsed, 50);
  EXPECT_GT(o.rejected, 100);
}

}  // namespace
}  // namespace kite::data
