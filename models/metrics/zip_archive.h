// A minimal ZIP archive reader and writer: just enough for NumPy's .npz files.
//
// An .npz is a ZIP archive of .npy members. Writing: entries stored (no compression) or
// raw-deflated through zlib, no encryption, no zip64, a fixed timestamp (1980-01-01) so that
// the same content gives the same bytes. Reading: the central directory at the end of the
// archive is authoritative (sizes, offsets, CRC); members may be stored or deflated; every
// member's CRC-32 is verified. NumPy's savez writes its local headers with zip64 size fields
// (a 0xFFFFFFFF placeholder plus a zip64 "extra" record) even for small arrays; those are
// accepted, since the central directory carries the real 32-bit sizes. Archives that need
// zip64 in the central directory (members or archives over 4 GiB, over 65535 members) are
// rejected with an error saying so. Errors name the archive and the problem.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kite::metrics {

struct ZipEntry {
  std::string name;
  std::vector<std::uint8_t> data;  // uncompressed contents
};

enum class ZipCompression { stored, deflated };

// The bytes of an archive holding `entries` in the given order.
std::vector<std::uint8_t> build_zip(const std::vector<ZipEntry>& entries,
                                    ZipCompression compression);

// All members of the archive `bytes`, in central-directory order. `source` (normally the
// file name) starts every error message.
std::vector<ZipEntry> parse_zip(const std::vector<std::uint8_t>& bytes, const std::string& source);

// CRC-32 as used by ZIP (and gzip, PNG): zlib's crc32.
std::uint32_t zip_crc32(const std::uint8_t* data, std::size_t size);

}  // namespace kite::metrics
