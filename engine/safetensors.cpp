// safetensors reading (with validation of every header field) and atomic writing.
#include "engine/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "engine/atomic_file.h"
#include "engine/error.h"

// Tensor bytes are copied between memory and file unchanged, which is right only on a
// little-endian machine (every target kite builds for).
static_assert(std::endian::native == std::endian::little,
              "kite's safetensors I/O assumes a little-endian host");

namespace kite::safetensors {

namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr const char* kMetadataKey = "__metadata__";
constexpr uint64_t kLengthFieldBytes = 8;
constexpr uint64_t kDataAlignment = 8;

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

std::string errno_text() { return std::strerror(errno); }

std::optional<DTypeCode> dtype_from_name(const std::string& name) {
  for (DTypeCode dtype : {DTypeCode::F32, DTypeCode::F64, DTypeCode::I64, DTypeCode::U8}) {
    if (name == dtype_name(dtype)) return dtype;
  }
  return std::nullopt;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

// numel * itemsize, or nullopt when it does not fit in 64 bits (a hostile header).
std::optional<uint64_t> byte_count(const std::vector<int64_t>& shape, DTypeCode dtype) {
  uint64_t bytes = static_cast<uint64_t>(itemsize(dtype));
  for (int64_t dim : shape) {
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(dim), &bytes)) return std::nullopt;
  }
  return bytes;
}

// ---- Reading ----

// One tensor entry of the header, checked on its own; checks across entries come later.
struct Entry {
  std::string name;
  RawTensor tensor;  // bytes still empty
  uint64_t begin = 0;
  uint64_t end = 0;
};

// Builds the "safetensors: '<path>': " prefix of every reading error.
struct Where {
  const std::string& path;
};

std::ostream& operator<<(std::ostream& out, const Where& where) {
  return out << "safetensors: '" << where.path << "': ";
}

Entry parse_entry(const Where& where, const std::string& name, const Json& value,
                  uint64_t data_bytes) {
  KITE_CHECK(value.is_object(), where << "entry '" << name << "' is not a JSON object");
  Entry entry;
  entry.name = name;

  auto field = value.find("dtype");
  KITE_CHECK(field != value.end() && field->is_string(),
             where << "tensor '" << name << "' has no \"dtype\" string");
  const std::string dtype = field->get<std::string>();
  const std::optional<DTypeCode> code = dtype_from_name(dtype);
  KITE_CHECK(code.has_value(), where << "tensor '" << name << "' has unsupported dtype '" << dtype
                                     << "' (kite reads F32, F64, I64, U8)");
  entry.tensor.dtype = *code;

  field = value.find("shape");
  KITE_CHECK(field != value.end() && field->is_array(),
             where << "tensor '" << name << "' has no \"shape\" array");
  for (const Json& dim : *field) {
    KITE_CHECK(dim.is_number_unsigned() && dim.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX),
               where << "tensor '" << name << "' has an invalid shape " << field->dump()
                     << " (dimensions must be non-negative integers)");
    entry.tensor.shape.push_back(dim.get<int64_t>());
  }

  field = value.find("data_offsets");
  KITE_CHECK(field != value.end() && field->is_array() && field->size() == 2 &&
                 (*field)[0].is_number_unsigned() && (*field)[1].is_number_unsigned(),
             where << "tensor '" << name
                   << "' needs \"data_offsets\" as two non-negative integers [begin, end]");
  entry.begin = (*field)[0].get<uint64_t>();
  entry.end = (*field)[1].get<uint64_t>();
  KITE_CHECK(entry.begin <= entry.end, where << "tensor '" << name << "' has data_offsets ["
                                             << entry.begin << ", " << entry.end
                                             << "] with begin after end");
  KITE_CHECK(entry.end <= data_bytes, where << "tensor '" << name << "' has data_offsets ["
                                            << entry.begin << ", " << entry.end
                                            << "] past the end of the " << data_bytes
                                            << "-byte data region (truncated file or bad offsets)");

  const std::optional<uint64_t> expected = byte_count(entry.tensor.shape, entry.tensor.dtype);
  KITE_CHECK(expected.has_value() && *expected == entry.end - entry.begin,
             where << "tensor '" << name << "' with dtype " << dtype << " and shape "
                   << shape_text(entry.tensor.shape) << " needs "
                   << (expected ? std::to_string(*expected) : std::string("too many"))
                   << " bytes, but its data_offsets [" << entry.begin << ", " << entry.end
                   << "] span " << entry.end - entry.begin << " bytes");
  return entry;
}

std::map<std::string, std::string> parse_metadata(const Where& where, const Json& value) {
  KITE_CHECK(value.is_object(), where << "\"" << kMetadataKey << "\" is not a JSON object");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    KITE_CHECK(item.is_string(), where << "metadata value of '" << key
                                       << "' is not a string (safetensors metadata maps "
                                          "strings to strings)");
    metadata[key] = item.get<std::string>();
  }
  return metadata;
}

void read_exact(const Where& where, std::FILE* file, uint64_t position, void* out, uint64_t bytes,
                const char* what) {
  if (bytes == 0) return;
  KITE_CHECK(fseeko(file, static_cast<off_t>(position), SEEK_SET) == 0,
             where << "cannot seek to " << what << ": " << errno_text());
  KITE_CHECK(std::fread(out, 1, bytes, file) == bytes,
             where << "cannot read " << what << " (" << bytes << " bytes at byte " << position
                   << "): file truncated or unreadable");
}

// ---- Writing ----

void check_writable(const std::string& path, const File& file) {
  for (const auto& [name, tensor] : file.tensors) {
    KITE_CHECK(!name.empty() && name != kMetadataKey,
               "safetensors: cannot write '" << path << "': invalid tensor name '" << name << "'");
    for (int64_t dim : tensor.shape) {
      KITE_CHECK(dim >= 0, "safetensors: cannot write '" << path << "': tensor '" << name
                                                         << "' has negative shape "
                                                         << shape_text(tensor.shape));
    }
    const std::optional<uint64_t> expected = byte_count(tensor.shape, tensor.dtype);
    KITE_CHECK(expected.has_value() && *expected == tensor.bytes.size(),
               "safetensors: cannot write '"
                   << path << "': tensor '" << name << "' with dtype " << dtype_name(tensor.dtype)
                   << " and shape " << shape_text(tensor.shape) << " holds " << tensor.bytes.size()
                   << " bytes, expected "
                   << (expected ? std::to_string(*expected) : std::string("too many")));
  }
}

// The JSON header, padded with spaces so that the data region starts 8-byte aligned.
std::string header_text(const std::string& path, const File& file) {
  OrderedJson header = OrderedJson::object();
  if (!file.metadata.empty()) header[kMetadataKey] = file.metadata;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : file.tensors) {
    const uint64_t end = offset + tensor.bytes.size();
    header[name] = {{"dtype", dtype_name(tensor.dtype)},
                    {"shape", tensor.shape},
                    {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& error) {
    // For example a name or metadata string that is not valid UTF-8.
    KITE_FAIL("safetensors: cannot write '" << path
                                            << "': header not encodable as JSON: " << error.what());
  }
  const size_t padded =
      (kLengthFieldBytes + text.size() + kDataAlignment - 1) / kDataAlignment * kDataAlignment -
      kLengthFieldBytes;
  text.append(padded - text.size(), ' ');
  return text;
}

}  // namespace

const char* dtype_name(DTypeCode dtype) {
  switch (dtype) {
    case DTypeCode::F32:
      return "F32";
    case DTypeCode::F64:
      return "F64";
    case DTypeCode::I64:
      return "I64";
    case DTypeCode::U8:
      return "U8";
  }
  return "?";
}

int64_t itemsize(DTypeCode dtype) {
  switch (dtype) {
    case DTypeCode::F32:
      return 4;
    case DTypeCode::F64:
      return 8;
    case DTypeCode::I64:
      return 8;
    case DTypeCode::U8:
      return 1;
  }
  return 0;
}

File read(const std::string& path) {
  const Where where{path};
  std::error_code error;
  KITE_CHECK(std::filesystem::exists(path, error), where << "cannot read: file does not exist");
  KITE_CHECK(std::filesystem::is_regular_file(path, error),
             where << "cannot read: not a regular file");
  const uint64_t file_bytes = std::filesystem::file_size(path, error);
  KITE_CHECK(!error, where << "cannot read its size: " << error.message());

  FilePtr file(std::fopen(path.c_str(), "rb"));
  KITE_CHECK(file != nullptr, where << "cannot open for reading: " << errno_text());
  KITE_CHECK(file_bytes >= kLengthFieldBytes,
             where << "file is " << file_bytes
                   << " bytes, too short for the 8-byte header length (empty or truncated)");

  uint8_t length_field[kLengthFieldBytes];
  read_exact(where, file.get(), 0, length_field, kLengthFieldBytes, "the header length");
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = (header_bytes << 8) | length_field[i];
  KITE_CHECK(header_bytes <= kMaxHeaderBytes,
             where << "header length " << header_bytes << " exceeds the limit of "
                   << kMaxHeaderBytes << " bytes (not a safetensors file, or damaged)");
  KITE_CHECK(header_bytes <= file_bytes - kLengthFieldBytes,
             where << "header length " << header_bytes << " exceeds the "
                   << file_bytes - kLengthFieldBytes
                   << " bytes after the length field (truncated or not a safetensors file)");

  std::string header_text(header_bytes, '\0');
  read_exact(where, file.get(), kLengthFieldBytes, header_text.data(), header_bytes, "the header");
  Json header;
  try {
    header = Json::parse(header_text);
  } catch (const nlohmann::json::exception& parse_error) {
    KITE_FAIL(where << "header is not valid JSON: " << parse_error.what());
  }
  KITE_CHECK(header.is_object(), where << "header is not a JSON object");

  const uint64_t data_start = kLengthFieldBytes + header_bytes;
  const uint64_t data_bytes = file_bytes - data_start;
  File result;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      result.metadata = parse_metadata(where, value);
    } else {
      entries.push_back(parse_entry(where, name, value, data_bytes));
    }
  }

  // Two tensors must never share bytes; gaps between them are tolerated.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < entries.size(); ++i) {
    const Entry& previous = entries[i - 1];
    const Entry& current = entries[i];
    KITE_CHECK(current.begin >= previous.end,
               where << "tensors '" << previous.name << "' [" << previous.begin << ", "
                     << previous.end << ") and '" << current.name << "' [" << current.begin << ", "
                     << current.end << ") overlap in the data region");
  }

  for (Entry& entry : entries) {
    entry.tensor.bytes.resize(entry.end - entry.begin);
    const std::string what = "the data of tensor '" + entry.name + "'";
    read_exact(where, file.get(), data_start + entry.begin, entry.tensor.bytes.data(),
               entry.end - entry.begin, what.c_str());
    result.tensors.emplace(std::move(entry.name), std::move(entry.tensor));
  }
  return result;
}

void write(const std::string& path, const File& file) {
  check_writable(path, file);
  const std::string header = header_text(path, file);
  uint8_t length_field[kLengthFieldBytes];
  uint64_t length = header.size();
  for (uint8_t& byte : length_field) {
    byte = static_cast<uint8_t>(length & 0xFF);
    length >>= 8;
  }

  AtomicFile output(path);
  output.write(length_field, sizeof(length_field));
  output.write(header.data(), header.size());
  for (const auto& [name, tensor] : file.tensors) {
    output.write(tensor.bytes.data(), tensor.bytes.size());
  }
  output.commit();
}

}  // namespace kite::safetensors
