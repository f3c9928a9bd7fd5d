// FID statistics files: .npz archives in the layout pytorch-fid reads and writes.
//
// Members:
//   mu.npy     float64, shape (d,)    the feature mean
//   sigma.npy  float64, shape (d, d)  the feature covariance
//   meta.npy   optional: a 0-d unicode array (numpy dtype '<U n') holding UTF-8 text. By
//              convention the text is a JSON object naming how the features were made, e.g.
//              {"extractor": "inception-v3-fid", "weights_sha256": "6726825d...", "count": 50000}
//              so that statistics from different extractors are never compared by accident.
//              This module treats the text as opaque; Python reads it as
//              str(np.load(path)["meta"]). pytorch-fid ignores the extra member.
// Reading accepts what numpy writes: np.savez (stored) and np.savez_compressed (deflate)
// archives, float32 or float64 arrays (pytorch-fid saves mu as float32), C or Fortran
// order. Writing goes to "<path>.tmp" first and is renamed into place, so a crash never
// leaves a half-written statistics file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/metrics/feature_stats.h"
#include "models/metrics/zip_archive.h"

namespace kite::metrics {

void save_statistics_npz(const std::string& path, const GaussianStatistics& statistics,
                         const std::string& metadata = "",
                         ZipCompression compression = ZipCompression::stored);

// Throws kite::Error naming the file and the problem: unreadable, not a zip, corrupt or
// truncated member, missing 'mu' or 'sigma', wrong dtype or shape, non-finite values.
// If `metadata` is given it receives the meta text ("" when the file has none).
GaussianStatistics load_statistics_npz(const std::string& path, std::string* metadata = nullptr);

// The same, on the bytes of an archive already in memory (`source` names it in errors).
GaussianStatistics parse_statistics_npz(const std::vector<std::uint8_t>& bytes,
                                        const std::string& source, std::string* metadata = nullptr);
std::vector<std::uint8_t> build_statistics_npz(const GaussianStatistics& statistics,
                                               const std::string& metadata,
                                               ZipCompression compression);

}  // namespace kite::metrics
