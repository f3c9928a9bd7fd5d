// Tests for .npy/.npz statistics files: layout compatible with numpy and pytorch-fid.
//
// The fixtures are assembled here byte by byte from the documented formats (NumPy's .npy
// format 1.0; PKWARE's ZIP records, laid out the way Python's zipfile writes np.savez
// archives, zip64 local extras included), with the test's own CRC-32, so they do not
// depend on the code under test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/error.h"
#include "models/metrics/npy_format.h"
#include "models/metrics/statistics_file.h"
#include "models/metrics/zip_archive.h"

namespace kite::metrics {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::uint32_t reference_crc32(const Bytes& data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::uint8_t byte : data) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void le(Bytes& out, std::uint64_t value, int bytes) {
  for (int b = 0; b < bytes; ++b) out.push_back(static_cast<std::uint8_t>(value >> (8 * b)));
}

void append(Bytes& out, const std::string& s) { out.insert(out.end(), s.begin(), s.end()); }

// .npy format 1.0: magic, version 1.0, uint16 header length, dict text padded with spaces
// and a final newline to a 64-byte boundary, then the data.
Bytes npy_v1(const std::string& dict, const Bytes& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  Bytes out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  le(out, header.size(), 2);
  append(out, header);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

Bytes f64_bytes(const std::vector<double>& values, bool big_endian = false) {
  Bytes out;
  for (double v : values) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, 8);
    for (int b = 0; b < 8; ++b)
      out.push_back(static_cast<std::uint8_t>(bits >> (8 * (big_endian ? 7 - b : b))));
  }
  return out;
}

Bytes f32_bytes(const std::vector<float>& values) {
  Bytes out;
  for (float v : values) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    le(out, bits, 4);
  }
  return out;
}

// A deflate stream made of "stored" blocks (BTYPE 00): valid deflate that any inflater
// must accept, built without a compressor.
Bytes deflate_stored_blocks(const Bytes& data) {
  Bytes out;
  std::size_t at = 0;
  do {
    const std::size_t length = std::min<std::size_t>(data.size() - at, 1000);
    const bool final_block = at + length == data.size();
    out.push_back(final_block ? 1 : 0);  // BFINAL bit, BTYPE = 00, padding to the byte
    le(out, length, 2);
    le(out, ~length & 0xFFFF, 2);
    out.insert(out.end(), data.begin() + at, data.begin() + at + length);
    at += length;
  } while (at < data.size());
  return out;
}

struct Member {
  std::string name;
  Bytes data;
};

// A zip archive as Python's zipfile writes np.savez / np.savez_compressed output: local
// headers with version 4.5 and zip64 extra fields (sizes 0xFFFFFFFF in the 32-bit slots),
// central directory with plain 32-bit sizes.
Bytes numpy_style_zip(const std::vector<Member>& members, bool deflate) {
  Bytes out, central;
  for (const Member& m : members) {
    const Bytes packed = deflate ? deflate_stored_blocks(m.data) : m.data;
    const std::uint32_t crc = reference_crc32(m.data);
    const std::size_t offset = out.size();
    le(out, 0x04034b50, 4);
    le(out, 45, 2);               // version needed: 4.5 (zip64)
    le(out, 0, 2);                // flags
    le(out, deflate ? 8 : 0, 2);  // method
    le(out, 0x6000, 2);           // time
    le(out, 0x5921, 2);           // date
    le(out, crc, 4);
    le(out, 0xFFFFFFFF, 4);  // sizes live in the zip64 extra field
    le(out, 0xFFFFFFFF, 4);
    le(out, m.name.size(), 2);
    le(out, 20, 2);  // extra length
    append(out, m.name);
    le(out, 0x0001, 2);  // zip64 extended information
    le(out, 16, 2);
    le(out, m.data.size(), 8);
    le(out, packed.size(), 8);
    out.insert(out.end(), packed.begin(), packed.end());

    le(central, 0x02014b50, 4);
    le(central, 0x032D, 2);  // made by: Unix, 4.5
    le(central, 45, 2);
    le(central, 0, 2);
    le(central, deflate ? 8 : 0, 2);
    le(central, 0x6000, 2);
    le(central, 0x5921, 2);
    le(central, crc, 4);
    le(central, packed.size(), 4);
    le(central, m.data.size(), 4);
    le(central, m.name.size(), 2);
    le(central, 0, 2);            // extra
    le(central, 0, 2);            // comment
    le(central, 0, 2);            // disk
    le(central, 0, 2);            // internal attributes
    le(central, 0600u << 16, 4);  // external attributes: -rw-------
    le(central, offset, 4);
    append(central, m.name);
  }
  const std::size_t central_offset = out.size();
  out.insert(out.end(), central.begin(), central.end());
  le(out, 0x06054b50, 4);
  le(out, 0, 2);
  le(out, 0, 2);
  le(out, members.size(), 2);
  le(out, members.size(), 2);
  le(out, central.size(), 4);
  le(out, central_offset, 4);
  le(out, 0, 2);
  return out;
}

const std::vector<double> kMu = {0.5, -1.25, 3.0};
const std::vector<double> kSigma = {2.0, 0.1, -0.3, 0.1, 1.5, 0.2, -0.3, 0.2, 4.0};

Bytes numpy_mu() {
  return npy_v1("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", f64_bytes(kMu));
}
Bytes numpy_sigma() {
  return npy_v1("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 3), }", f64_bytes(kSigma));
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const kite::Error& e) {
    return e.what();
  }
  return "(no kite::Error thrown)";
}

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "kite_metrics_" + std::to_string(getpid()) + "_" + name;
}

TEST(MetricsNpz, WrittenNpyMatchesTheDocumentedLayoutByteForByte) {
  EXPECT_EQ(encode_npy(npy_from_float64(kMu.data(), {3})), numpy_mu());
  EXPECT_EQ(encode_npy(npy_from_float64(kSigma.data(), {3, 3})), numpy_sigma());
  const Bytes mu = numpy_mu();
  EXPECT_EQ((mu.size() - 3 * 8) % 64, 0u);  // data starts 64-byte aligned
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
  EXPECT_EQ(std::string(mu.begin() + 10, mu.begin() + 10 + dict.size()), dict);
  EXPECT_EQ(mu[8] | mu[9] << 8, 128 - 10);  // header length field: 118 bytes including padding
}

TEST(MetricsNpz, ReadsNumpySavezArchives) {
  for (bool deflate : {false, true}) {
    const Bytes archive =
        numpy_style_zip({{"mu.npy", numpy_mu()}, {"sigma.npy", numpy_sigma()}}, deflate);
    std::string meta = "stale";
    const GaussianStatistics s = parse_statistics_npz(archive, "fixture.npz", &meta);
    EXPECT_EQ(s.mean, kMu) << "deflate=" << deflate;
    EXPECT_EQ(s.covariance.values(), kSigma) << "deflate=" << deflate;
    EXPECT_EQ(meta, "");
  }
}

TEST(MetricsNpz, ReadsFloat32FortranOrderBigEndianAndLooseHeaders) {
  // pytorch-fid saves mu as float32; sigma here in Fortran order with keys reordered and no
  // trailing comma (still a valid dict literal, which numpy accepts).
  const std::vector<float> mu32 = {0.5f, -1.25f, 3.0f};
  std::vector<double> transposed(9);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) transposed[c * 3 + r] = kSigma[r * 3 + c] + (r < c ? 10.0 : 0.0);
  const Bytes mu =
      npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f32_bytes(mu32));
  const Bytes sigma =
      npy_v1("{\"shape\": (3, 3),  'fortran_order': True, 'descr': '<f8'}", f64_bytes(transposed));
  const GaussianStatistics s =
      parse_statistics_npz(numpy_style_zip({{"sigma.npy", sigma}, {"mu.npy", mu}}, true), "f.npz");
  EXPECT_EQ(s.mean, kMu);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c)
      EXPECT_EQ(s.covariance(r, c), kSigma[r * 3 + c] + (r < c ? 10.0 : 0.0)) << r << "," << c;

  const Bytes big =
      npy_v1("{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }", f64_bytes(kMu, true));
  EXPECT_EQ(npy_to_float64(decode_npy(big, "big"), "big"), kMu);
}

TEST(MetricsNpz, FileRoundTripStoredAndDeflatedWithMetadata) {
  GaussianStatistics stats;
  const std::size_t d = 64;
  stats.mean.resize(d);
  stats.covariance = Matrix(d, d);
  for (std::size_t i = 0; i < d; ++i) {
    stats.mean[i] = 1.0 / (1.0 + double(i));
    stats.covariance(i, i) = 2.0 + double(i);
  }
  stats.covariance(3, 5) = stats.covariance(5, 3) = -0.1;
  const std::string meta =
      R"({"extractor": "inception-v3-fid", "weights_sha256": "6726825d", "note": "é漢🙂"})";
  std::size_t sizes[2];
  for (ZipCompression compression : {ZipCompression::stored, ZipCompression::deflated}) {
    const std::string path = temp_path(compression == ZipCompression::stored ? "s.npz" : "d.npz");
    save_statistics_npz(path, stats, meta, compression);
    std::string read_meta;
    const GaussianStatistics back = load_statistics_npz(path, &read_meta);
    EXPECT_EQ(back.mean, stats.mean);
    EXPECT_EQ(back.covariance.values(), stats.covariance.values());
    EXPECT_EQ(read_meta, meta);
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    sizes[compression == ZipCompression::stored ? 0 : 1] = static_cast<std::size_t>(in.tellg());
    std::remove(path.c_str());
  }
  EXPECT_LT(sizes[1], sizes[0] / 4);  // a mostly-zero sigma deflates well

  // Without metadata there is no meta member, and the reader reports "".
  const Bytes plain = build_statistics_npz(stats, "", ZipCompression::stored);
  EXPECT_EQ(parse_zip(plain, "plain").size(), 2u);
  std::string read_meta = "stale";
  parse_statistics_npz(plain, "plain", &read_meta);
  EXPECT_EQ(read_meta, "");
}

TEST(MetricsNpz, MetadataIsAZeroDimensionalUnicodeArray) {
  const NpyArray text = npy_from_text("Aé");
  EXPECT_EQ(text.descr, "<U2");
  EXPECT_TRUE(text.shape.empty());
  EXPECT_EQ(text.data, (Bytes{'A', 0, 0, 0, 0xE9, 0, 0, 0}));  // UTF-32LE code points
  // A uint8 byte array is accepted as text too.
  const Bytes u8 = npy_v1("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", {'o', 'k'});
  EXPECT_EQ(npy_to_text(decode_npy(u8, "u8"), "u8"), "ok");
}

TEST(MetricsNpz, CorruptTruncatedOrIncompleteFilesGiveClearErrors) {
  const Bytes good = numpy_style_zip({{"mu.npy", numpy_mu()}, {"sigma.npy", numpy_sigma()}}, false);
  auto parse = [](const Bytes& b) { return [b] { parse_statistics_npz(b, "stats.npz"); }; };
  auto expect_error = [](const std::string& message, const std::string& needle) {
    EXPECT_NE(message.find("stats.npz"), std::string::npos) << message;
    EXPECT_NE(message.find(needle), std::string::npos) << message;
  };

  Bytes flipped = good;
  flipped[200] ^= 0x40;  // inside mu.npy's data
  expect_error(message_of(parse(flipped)), "CRC");

  expect_error(message_of(parse(Bytes(good.begin(), good.begin() + good.size() / 2))), "truncated");
  expect_error(message_of(parse(Bytes{'n', 'o', 't', ' ', 'a', ' ', 'z', 'i', 'p'})), "not a zip");
  expect_error(message_of(parse(numpy_style_zip({{"mu.npy", numpy_mu()}}, false))),
               "missing array 'sigma'");
  expect_error(message_of(parse(numpy_style_zip({{"sigma.npy", numpy_sigma()}}, false))),
               "missing array 'mu'");

  const Bytes wrong_shape =
      npy_v1("{'descr': '<f8', 'fortran_order': False, 'shape': (9,), }", f64_bytes(kSigma));
  expect_error(message_of(parse(
                   numpy_style_zip({{"mu.npy", numpy_mu()}, {"sigma.npy", wrong_shape}}, false))),
               "sigma.npy");
  const Bytes ints =
      npy_v1("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", Bytes(24, 0));
  expect_error(
      message_of(parse(numpy_style_zip({{"mu.npy", ints}, {"sigma.npy", numpy_sigma()}}, false))),
      "<i8");
  Bytes short_data = numpy_mu();
  short_data.resize(short_data.size() - 8);
  expect_error(message_of(parse(
                   numpy_style_zip({{"mu.npy", short_data}, {"sigma.npy", numpy_sigma()}}, false))),
               "truncated");

  // A deflated member whose stream is damaged (a stored block's NLEN no longer matches).
  Bytes bad_deflate = numpy_style_zip({{"mu.npy", numpy_mu()}, {"sigma.npy", numpy_sigma()}}, true);
  const std::size_t stream_start = 30 + 6 + 20;  // local header + "mu.npy" + zip64 extra
  bad_deflate[stream_start + 3] ^= 0xFF;
  expect_error(message_of(parse(bad_deflate)), "deflate");

  // A zip64 end-of-central-directory locator in front of the end record: rejected by name.
  Bytes zip64 = good;
  Bytes locator;
  le(locator, 0x07064b50, 4);
  le(locator, 0, 4);
  le(locator, 0, 8);
  le(locator, 1, 4);
  zip64.insert(zip64.end() - 22, locator.begin(), locator.end());
  expect_error(message_of(parse(zip64)), "zip64");

  const std::string missing = temp_path("does_not_exist.npz");
  EXPECT_NE(message_of([&] { load_statistics_npz(missing); }).find(missing), std::string::npos);
}

TEST(MetricsNpz, RandomDamageGivesKiteErrorsOnly) {
  // Flipped bytes, truncations and garbage headers must end in a kite::Error (or, for
  // harmless damage such as a flipped timestamp, a successful read), never in a crash, an
  // unrelated exception or a huge allocation.
  std::mt19937_64 rng(99);
  for (bool deflate : {false, true}) {
    const Bytes good =
        numpy_style_zip({{"mu.npy", numpy_mu()}, {"sigma.npy", numpy_sigma()}}, deflate);
    int errors = 0;
    for (int trial = 0; trial < 1500; ++trial) {
      Bytes damaged = good;
      const int kind = trial % 3;
      if (kind == 0) {  // one random byte
        damaged[rng() % damaged.size()] = static_cast<std::uint8_t>(rng());
      } else if (kind == 1) {  // a 4-byte field set to a huge value
        const std::size_t at = rng() % (damaged.size() - 4);
        for (int b = 0; b < 4; ++b) damaged[at + b] = 0xFF - static_cast<std::uint8_t>(b);
      } else {  // truncation
        damaged.resize(rng() % damaged.size());
      }
      try {
        parse_statistics_npz(damaged, "fuzz.npz");
      } catch (const kite::Error& e) {
        ++errors;
        EXPECT_NE(std::string(e.what()).find("fuzz.npz"), std::string::npos) << e.what();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "trial " << trial << ": unexpected exception " << e.what();
      }
    }
    EXPECT_GT(errors, 1000) << "deflate=" << deflate;  // most damage must be detected
  }
}

TEST(MetricsNpz, ZipWriterProducesWhatTheReaderAndTheReferenceCrcAgreeOn) {
  const std::vector<ZipEntry> entries = {
      {"a.bin", Bytes(1000, 7)}, {"empty", {}}, {"b", {1, 2, 3}}};
  for (ZipCompression c : {ZipCompression::stored, ZipCompression::deflated}) {
    const std::vector<ZipEntry> back = parse_zip(build_zip(entries, c), "mem");
    ASSERT_EQ(back.size(), entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
      EXPECT_EQ(back[i].name, entries[i].name);
      EXPECT_EQ(back[i].data, entries[i].data);
    }
  }
  const Bytes sample = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  EXPECT_EQ(zip_crc32(sample.data(), sample.size()), 0xCBF43926u);  // the CRC-32 check value
  EXPECT_EQ(reference_crc32(sample), 0xCBF43926u);
}

}  // namespace
}  // namespace kite::metrics
