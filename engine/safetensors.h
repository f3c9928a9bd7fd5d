// The safetensors file format, at the level of raw bytes (no Tensor class): read and write
// named arrays plus a string-to-string metadata map. The Tensor-level checkpoint code wraps
// this.
//
// Layout of a file (the format of Hugging Face's `safetensors` package, so Python reads ours
// and we read Python's):
//   8 bytes     N, the header length, unsigned little-endian
//   N bytes     JSON object: {"__metadata__": {"k": "v", ...},            (optional)
//                             "name": {"dtype": "F32", "shape": [2, 3],
//                                      "data_offsets": [begin, end]}, ...}
//               padded with spaces so that the data starts 8-byte aligned
//   the rest    the data region: each tensor's bytes, little-endian, row-major, at
//               [begin, end) relative to the start of the data region
//
// Only the dtypes kite uses are supported: F32, F64, I64, U8. Reading checks everything a
// damaged or foreign file can get wrong and throws kite::Error naming the file and the
// problem. Writing goes through `<path>.tmp`, flushed and fsync'ed, then renamed over
// `path`, so a crash or error never leaves a half-written file under `path`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kite::safetensors {

enum class DTypeCode { F32, F64, I64, U8 };

// "F32", "F64", "I64", "U8": the names used in the header.
const char* dtype_name(DTypeCode dtype);
int64_t itemsize(DTypeCode dtype);

struct RawTensor {
  DTypeCode dtype = DTypeCode::F32;
  std::vector<int64_t> shape;  // empty for a 0-d (scalar) tensor
  std::vector<uint8_t> bytes;  // numel * itemsize bytes, little-endian, row-major
};

struct File {
  std::map<std::string, RawTensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Tensors are stored in name order. Throws kite::Error (and leaves any existing file at
// `path` untouched) when a tensor's byte count does not match its shape, a name is empty or
// "__metadata__", or the file cannot be written.
void write(const std::string& path, const File& file);

File read(const std::string& path);

// The largest header accepted, as in the Python package: a bigger one means a damaged file.
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;

}  // namespace kite::safetensors
