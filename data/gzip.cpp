// In-memory gzip decompression (zlib's inflate with the gzip wrapper).
#include "data/gzip.h"

#include <zlib.h>

#include <algorithm>

#include "engine/error.h"

namespace kite::data {

namespace {

// zlib counts in 32-bit uInt, so feed and drain at most this many bytes per call.
constexpr size_t kMaxStep = size_t{1} << 30;

// Owns a z_stream set up for gzip decoding; ends it on every path out.
class GzipInflater {
 public:
  explicit GzipInflater(const std::string& name) {
    // 15 = largest window; +16 = expect the gzip header and trailer, not the zlib ones.
    KITE_CHECK(inflateInit2(&stream_, 15 + 16) == Z_OK,
               name << ": cannot initialise zlib: " << (stream_.msg ? stream_.msg : "no memory"));
  }
  ~GzipInflater() { inflateEnd(&stream_); }
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;
  z_stream* get() { return &stream_; }

 private:
  z_stream stream_{};
};

}  // namespace

bool looks_gzipped(const uint8_t* data, size_t size) {
  return size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

std::vector<uint8_t> gunzip(const uint8_t* data, size_t size, const std::string& name,
                            size_t max_output) {
  KITE_CHECK(size > 0, name << ": empty file (0 bytes), expected gzip data");
  KITE_CHECK(looks_gzipped(data, size),
             name << ": not gzip data (the first bytes are not the gzip magic 1f 8b)");

  GzipInflater inflater(name);
  z_stream* stream = inflater.get();
  const uint8_t* const end = data + size;
  stream->next_in = const_cast<Bytef*>(data);  // zlib's API is not const-correct
  stream->avail_in = 0;

  // Deflate expands at most 1032:1, so start near a typical ratio and grow by doubling.
  std::vector<uint8_t> out(std::min(max_output, std::max<size_t>(size * 4, 1 << 16)));
  size_t produced = 0;
  while (true) {
    if (stream->avail_in == 0) {
      stream->avail_in = static_cast<uInt>(std::min<size_t>(end - stream->next_in, kMaxStep));
    }
    if (produced == out.size()) {
      KITE_CHECK(out.size() < max_output,
                 name << ": decompresses to more than " << max_output << " bytes; refusing");
      out.resize(std::min(max_output, out.size() * 2));
    }
    stream->next_out = out.data() + produced;
    stream->avail_out = static_cast<uInt>(std::min(out.size() - produced, kMaxStep));
    const uInt room = stream->avail_out;
    const int rc = inflate(stream, Z_NO_FLUSH);
    produced += room - stream->avail_out;

    if (rc == Z_STREAM_END) {
      const size_t left = end - stream->next_in;
      if (left == 0) break;
      // gzip allows several members back to back (what `cat a.gz b.gz` makes).
      KITE_CHECK(looks_gzipped(stream->next_in, left),
                 name << ": " << left << " bytes of trailing data after the gzip stream");
      KITE_CHECK(inflateReset(stream) == Z_OK, name << ": cannot reset zlib");
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && stream->avail_in == 0 && stream->next_in == end) {
      KITE_FAIL(name << ": truncated gzip stream (ends after " << size
                     << " compressed bytes, before the end of the data)");
    }
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_BUF_ERROR) {
      KITE_FAIL(name << ": corrupt gzip data at compressed byte " << (stream->next_in - data)
                     << ": " << (stream->msg ? stream->msg : "invalid stream"));
    }
    KITE_FAIL(name << ": zlib error " << rc << " while decompressing");
  }
  out.resize(produced);
  return out;
}

}  // namespace kite::data
