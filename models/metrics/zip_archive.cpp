// Minimal ZIP reader/writer for .npz files; see zip_archive.h for what is supported.
//
// Record layouts (PKWARE APPNOTE), all integers little-endian:
//   local header   (30 bytes + name + extra): PK\3\4, version, flags, method, time, date,
//                  crc32, compressed size, uncompressed size, name length, extra length
//   central header (46 bytes + name + extra + comment): PK\1\2, version made by, version
//                  needed, flags, method, time, date, crc32, sizes, name/extra/comment
//                  lengths, disk, internal attributes, external attributes, local offset
//   end record     (22 bytes + comment): PK\5\6, disk numbers, entry counts, central
//                  directory size and offset, comment length
#include "models/metrics/zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <limits>

#include "engine/error.h"

namespace kite::metrics {

namespace {

constexpr std::uint32_t kLocalSignature = 0x04034b50;
constexpr std::uint32_t kCentralSignature = 0x02014b50;
constexpr std::uint32_t kEndSignature = 0x06054b50;
constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr std::size_t kLocalHeaderSize = 30;
constexpr std::size_t kCentralHeaderSize = 46;
constexpr std::size_t kEndRecordSize = 22;
constexpr std::uint16_t kMethodStored = 0;
constexpr std::uint16_t kMethodDeflate = 8;
constexpr std::uint16_t kVersionNeeded = 20;                     // 2.0: deflate
constexpr std::uint16_t kDosDate1980 = (0 << 9) | (1 << 5) | 1;  // 1980-01-01, the DOS epoch

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int b = 0; b < 4; ++b) out.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
}

std::vector<std::uint8_t> deflate_raw(const std::vector<std::uint8_t>& input) {
  z_stream stream{};
  // windowBits -15: a raw deflate stream, no zlib header, as ZIP members store it.
  KITE_CHECK(
      deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK,
      "build_zip: zlib deflateInit2 failed");
  std::vector<std::uint8_t> output(deflateBound(&stream, static_cast<uLong>(input.size())));
  stream.next_in = const_cast<Bytef*>(input.data());
  stream.avail_in = static_cast<uInt>(input.size());
  stream.next_out = output.data();
  stream.avail_out = static_cast<uInt>(output.size());
  const int status = deflate(&stream, Z_FINISH);
  const std::size_t produced = stream.total_out;
  deflateEnd(&stream);
  KITE_CHECK(status == Z_STREAM_END, "build_zip: zlib deflate failed (status " << status << ")");
  output.resize(produced);
  return output;
}

// Little-endian reads with bounds already checked by the caller.
struct Reader {
  const std::vector<std::uint8_t>& bytes;
  std::uint16_t u16(std::size_t at) const {
    return static_cast<std::uint16_t>(bytes[at] | bytes[at + 1] << 8);
  }
  std::uint32_t u32(std::size_t at) const {
    return static_cast<std::uint32_t>(bytes[at]) | static_cast<std::uint32_t>(bytes[at + 1]) << 8 |
           static_cast<std::uint32_t>(bytes[at + 2]) << 16 |
           static_cast<std::uint32_t>(bytes[at + 3]) << 24;
  }
};

std::vector<std::uint8_t> inflate_raw(const std::uint8_t* data, std::size_t size,
                                      std::size_t expected, const std::string& where) {
  std::vector<std::uint8_t> output(expected);
  z_stream stream{};
  KITE_CHECK(inflateInit2(&stream, -15) == Z_OK, where << ": zlib inflateInit2 failed");
  stream.next_in = const_cast<Bytef*>(data);
  stream.avail_in = static_cast<uInt>(size);
  // One spare byte of output room lets us notice data that inflates to more than announced.
  std::uint8_t spare = 0;
  stream.next_out = expected > 0 ? output.data() : &spare;
  stream.avail_out = static_cast<uInt>(expected > 0 ? expected : 1);
  int status = inflate(&stream, Z_FINISH);
  if ((status == Z_OK || status == Z_BUF_ERROR) && stream.avail_out == 0 && expected > 0) {
    stream.next_out = &spare;
    stream.avail_out = 1;
    status = inflate(&stream, Z_FINISH);
  }
  const std::size_t produced = stream.total_out;
  inflateEnd(&stream);
  KITE_CHECK(status == Z_STREAM_END && produced == expected,
             where << ": corrupt deflate data (zlib status " << status << ", " << produced
                   << " bytes inflated, " << expected << " expected)");
  return output;
}

}  // namespace

std::uint32_t zip_crc32(const std::uint8_t* data, std::size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (size > 0) {  // zlib takes 32-bit lengths
    const auto piece = static_cast<uInt>(std::min<std::size_t>(size, 1u << 30));
    crc = crc32(crc, data, piece);
    data += piece;
    size -= piece;
  }
  return static_cast<std::uint32_t>(crc);
}

std::vector<std::uint8_t> build_zip(const std::vector<ZipEntry>& entries,
                                    ZipCompression compression) {
  constexpr std::size_t kLimit = std::numeric_limits<std::uint32_t>::max();
  KITE_CHECK(entries.size() < 0xFFFF, "build_zip: too many entries (" << entries.size() << ")");
  std::vector<std::uint8_t> out;
  std::vector<std::uint8_t> central;
  for (const ZipEntry& entry : entries) {
    KITE_CHECK(!entry.name.empty() && entry.name.size() < 0xFFFF,
               "build_zip: bad entry name '" << entry.name << "'");
    KITE_CHECK(entry.data.size() < kLimit,
               "build_zip: entry '" << entry.name << "' is too large without zip64");
    const std::uint32_t crc = zip_crc32(entry.data.data(), entry.data.size());
    const bool deflated = compression == ZipCompression::deflated;
    const std::vector<std::uint8_t> packed = deflated ? deflate_raw(entry.data) : entry.data;
    const std::uint16_t method = deflated ? kMethodDeflate : kMethodStored;
    const std::size_t offset = out.size();
    KITE_CHECK(offset < kLimit && packed.size() < kLimit - offset,
               "build_zip: archive too large without zip64");

    // Fields shared by the local and central headers, from "version needed" to the lengths.
    auto common = [&](std::vector<std::uint8_t>& v) {
      put16(v, kVersionNeeded);
      put16(v, 0);  // flags: no encryption, no data descriptor
      put16(v, method);
      put16(v, 0);  // time 00:00:00
      put16(v, kDosDate1980);
      put32(v, crc);
      put32(v, static_cast<std::uint32_t>(packed.size()));
      put32(v, static_cast<std::uint32_t>(entry.data.size()));
      put16(v, static_cast<std::uint16_t>(entry.name.size()));
      put16(v, 0);  // extra field length
    };
    put32(out, kLocalSignature);
    common(out);
    out.insert(out.end(), entry.name.begin(), entry.name.end());
    out.insert(out.end(), packed.begin(), packed.end());

    put32(central, kCentralSignature);
    put16(central, kVersionNeeded);  // version made by: 2.0, MS-DOS attribute conventions
    common(central);
    put16(central, 0);  // comment length
    put16(central, 0);  // disk number
    put16(central, 0);  // internal attributes
    put32(central, 0);  // external attributes
    put32(central, static_cast<std::uint32_t>(offset));
    central.insert(central.end(), entry.name.begin(), entry.name.end());
  }
  const std::size_t central_offset = out.size();
  KITE_CHECK(central_offset < kLimit && central.size() < kLimit - central_offset,
             "build_zip: archive too large without zip64");
  out.insert(out.end(), central.begin(), central.end());
  put32(out, kEndSignature);
  put16(out, 0);  // this disk
  put16(out, 0);  // disk with the central directory
  put16(out, static_cast<std::uint16_t>(entries.size()));
  put16(out, static_cast<std::uint16_t>(entries.size()));
  put32(out, static_cast<std::uint32_t>(central.size()));
  put32(out, static_cast<std::uint32_t>(central_offset));
  put16(out, 0);  // comment length
  return out;
}

std::vector<ZipEntry> parse_zip(const std::vector<std::uint8_t>& bytes, const std::string& source) {
  const Reader in{bytes};
  KITE_CHECK(bytes.size() >= kEndRecordSize,
             source << ": not a zip archive (only " << bytes.size() << " bytes; truncated?)");
  // The end record sits at the very end, followed only by an optional comment (< 64 KiB).
  std::size_t end = std::string::npos;
  const std::size_t last = bytes.size() - kEndRecordSize;
  const std::size_t first = last > 0xFFFF ? last - 0xFFFF : 0;
  for (std::size_t at = last + 1; at-- > first;) {
    if (in.u32(at) == kEndSignature && at + kEndRecordSize + in.u16(at + 20) == bytes.size()) {
      end = at;
      break;
    }
  }
  KITE_CHECK(end != std::string::npos,
             source << ": not a zip archive or truncated (no end-of-central-directory record)");
  KITE_CHECK(!(end >= 20 && in.u32(end - 20) == kZip64LocatorSignature),
             source << ": zip64 archives are not supported (archive needs zip64 end records)");
  const std::uint16_t disk = in.u16(end + 4);
  const std::uint16_t central_disk = in.u16(end + 6);
  const std::uint16_t count = in.u16(end + 10);
  const std::uint32_t central_size = in.u32(end + 12);
  const std::uint32_t central_offset = in.u32(end + 16);
  KITE_CHECK(count != 0xFFFF && central_size != 0xFFFFFFFF && central_offset != 0xFFFFFFFF,
             source << ": zip64 archives are not supported");
  KITE_CHECK(disk == 0 && central_disk == 0 && in.u16(end + 8) == count,
             source << ": multi-disk zip archives are not supported");
  KITE_CHECK(std::size_t{central_offset} + central_size <= end,
             source << ": corrupt zip (central directory at " << central_offset << " + "
                    << central_size << " bytes runs past the end record at " << end << ")");

  std::vector<ZipEntry> entries;
  std::size_t at = central_offset;
  for (std::uint16_t i = 0; i < count; ++i) {
    KITE_CHECK(at + kCentralHeaderSize <= end && in.u32(at) == kCentralSignature,
               source << ": corrupt zip (central directory entry " << i << " is damaged)");
    const std::uint16_t flags = in.u16(at + 8);
    const std::uint16_t method = in.u16(at + 10);
    const std::uint32_t crc = in.u32(at + 16);
    const std::uint32_t packed_size = in.u32(at + 20);
    const std::uint32_t size = in.u32(at + 24);
    const std::size_t name_length = in.u16(at + 28);
    const std::size_t extra_length = in.u16(at + 30);
    const std::size_t comment_length = in.u16(at + 32);
    const std::uint32_t local = in.u32(at + 42);
    KITE_CHECK(at + kCentralHeaderSize + name_length + extra_length + comment_length <= end,
               source << ": corrupt zip (central directory entry " << i << " is truncated)");
    ZipEntry entry;
    entry.name.assign(bytes.begin() + at + kCentralHeaderSize,
                      bytes.begin() + at + kCentralHeaderSize + name_length);
    const std::string where = source + ": entry '" + entry.name + "'";
    KITE_CHECK(packed_size != 0xFFFFFFFF && size != 0xFFFFFFFF && local != 0xFFFFFFFF,
               where << ": zip64 members are not supported");
    KITE_CHECK((flags & 1) == 0, where << ": encrypted members are not supported");
    KITE_CHECK(
        method == kMethodStored || method == kMethodDeflate,
        where << ": unsupported compression method " << method << " (only stored and deflate)");

    // The local header repeats the name and has its own extra field (NumPy puts its zip64
    // sizes there); only its lengths matter, to find where the data starts.
    KITE_CHECK(
        std::size_t{local} + kLocalHeaderSize <= bytes.size() && in.u32(local) == kLocalSignature,
        where << ": corrupt zip (bad local header at offset " << local << ")");
    const std::size_t data_start =
        std::size_t{local} + kLocalHeaderSize + in.u16(local + 26) + in.u16(local + 28);
    KITE_CHECK(data_start + packed_size <= bytes.size(),
               where << ": truncated (" << packed_size << " bytes announced at offset "
                     << data_start << ", file has " << bytes.size() << ")");
    const std::uint8_t* packed = bytes.data() + data_start;
    if (method == kMethodStored) {
      KITE_CHECK(packed_size == size,
                 where << ": corrupt zip (stored member with different sizes)");
      entry.data.assign(packed, packed + size);
    } else {
      // Deflate cannot expand data more than ~1032:1; a larger claim is a corrupt header,
      // and must not turn into a multi-gigabyte allocation.
      KITE_CHECK(size <= std::size_t{packed_size} * 1032 + 64,
                 where << ": corrupt zip (" << size << " bytes claimed from " << packed_size
                       << " deflated bytes)");
      entry.data = inflate_raw(packed, packed_size, size, where);
    }
    KITE_CHECK(zip_crc32(entry.data.data(), entry.data.size()) == crc,
               where << ": CRC-32 mismatch (corrupt file)");
    entries.push_back(std::move(entry));
    at += kCentralHeaderSize + name_length + extra_length + comment_length;
  }
  return entries;
}

}  // namespace kite::metrics
