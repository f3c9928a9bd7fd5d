// Reading and writing FID statistics as .npz (mu, sigma, optional meta); see the header.
#include "models/metrics/statistics_file.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "engine/atomic_file.h"
#include "engine/error.h"
#include "models/metrics/npy_format.h"

namespace kite::metrics {

namespace {

const ZipEntry* find_entry(const std::vector<ZipEntry>& entries, const std::string& name) {
  for (const ZipEntry& entry : entries)
    if (entry.name == name) return &entry;
  return nullptr;
}

std::vector<double> finite_values(const NpyArray& array, const std::string& where) {
  std::vector<double> values = npy_to_float64(array, where);
  for (std::size_t i = 0; i < values.size(); ++i) {
    KITE_CHECK(std::isfinite(values[i]),
               where << ": non-finite value " << values[i] << " at flat index " << i);
  }
  return values;
}

}  // namespace

std::vector<std::uint8_t> build_statistics_npz(const GaussianStatistics& statistics,
                                               const std::string& metadata,
                                               ZipCompression compression) {
  const std::size_t d = statistics.mean.size();
  KITE_CHECK(statistics.covariance.rows() == d && statistics.covariance.cols() == d,
             "save_statistics_npz: mean has " << d << " entries but the covariance is "
                                              << statistics.covariance.rows() << "x"
                                              << statistics.covariance.cols());
  std::vector<ZipEntry> entries;
  entries.push_back({"mu.npy", encode_npy(npy_from_float64(statistics.mean.data(), {d}))});
  entries.push_back(
      {"sigma.npy", encode_npy(npy_from_float64(statistics.covariance.data(), {d, d}))});
  if (!metadata.empty()) entries.push_back({"meta.npy", encode_npy(npy_from_text(metadata))});
  return build_zip(entries, compression);
}

GaussianStatistics parse_statistics_npz(const std::vector<std::uint8_t>& bytes,
                                        const std::string& source, std::string* metadata) {
  const std::vector<ZipEntry> entries = parse_zip(bytes, source);
  const ZipEntry* mu = find_entry(entries, "mu.npy");
  const ZipEntry* sigma = find_entry(entries, "sigma.npy");
  KITE_CHECK(mu != nullptr, source << ": missing array 'mu' (no mu.npy in the archive)");
  KITE_CHECK(sigma != nullptr, source << ": missing array 'sigma' (no sigma.npy in the archive)");

  const std::string mu_where = source + ": mu.npy";
  const std::string sigma_where = source + ": sigma.npy";
  const NpyArray mu_array = decode_npy(mu->data, mu_where);
  const NpyArray sigma_array = decode_npy(sigma->data, sigma_where);
  KITE_CHECK(mu_array.shape.size() == 1,
             mu_where << ": expected a 1-d array, got " << mu_array.shape.size() << " dimensions");
  const std::size_t d = mu_array.shape[0];
  KITE_CHECK(
      sigma_array.shape.size() == 2 && sigma_array.shape[0] == d && sigma_array.shape[1] == d,
      sigma_where << ": expected shape (" << d << ", " << d << ") to match mu");

  GaussianStatistics statistics;
  statistics.mean = finite_values(mu_array, mu_where);
  const std::vector<double> sigma_values = finite_values(sigma_array, sigma_where);
  statistics.covariance = Matrix::from_row_major(d, d, sigma_values.data());

  if (metadata != nullptr) {
    const ZipEntry* meta = find_entry(entries, "meta.npy");
    const std::string meta_where = source + ": meta.npy";
    *metadata = meta ? npy_to_text(decode_npy(meta->data, meta_where), meta_where) : "";
  }
  return statistics;
}

void save_statistics_npz(const std::string& path, const GaussianStatistics& statistics,
                         const std::string& metadata, ZipCompression compression) {
  const std::vector<std::uint8_t> bytes = build_statistics_npz(statistics, metadata, compression);
  write_file_atomically(path, bytes.data(), bytes.size());
}

GaussianStatistics load_statistics_npz(const std::string& path, std::string* metadata) {
  std::ifstream in(path, std::ios::binary);
  KITE_CHECK(in, "load_statistics_npz: cannot open " << path);
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                        std::istreambuf_iterator<char>());
  KITE_CHECK(!in.bad(), "load_statistics_npz: error reading " << path);
  return parse_statistics_npz(bytes, path, metadata);
}

}  // namespace kite::metrics
