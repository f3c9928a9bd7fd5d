// IDX files: the format of MNIST and Fashion-MNIST, plain or gzip-compressed.
#include "data/idx.h"

#include <filesystem>
#include <iomanip>
#include <sstream>

#include "data/file_bytes.h"
#include "data/gzip.h"
#include "engine/error.h"

namespace kite::data {

namespace {

constexpr uint8_t kUnsignedByteType = 0x08;

std::string hex32(uint32_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << std::setw(8) << std::setfill('0') << value;
  return out.str();
}

uint32_t read_big_endian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string type_name(uint8_t type) {
  switch (type) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "unknown type";
  }
}

// Checks the header of an unsigned-byte IDX array with `want_dims` dimensions and that the
// file holds exactly the elements it announces. Returns the dimensions.
std::vector<int64_t> check_idx_header(const std::vector<uint8_t>& bytes, const std::string& name,
                                      uint8_t want_dims, const char* what) {
  const uint32_t want_magic = (uint32_t{kUnsignedByteType} << 8) | want_dims;
  KITE_CHECK(!bytes.empty(), name << ": empty file (0 bytes), expected an IDX " << what << " file");
  KITE_CHECK(bytes.size() >= 4, name << ": truncated: " << bytes.size()
                                     << " bytes, too short for the 4-byte IDX magic");
  const uint32_t magic = read_big_endian32(bytes.data());
  KITE_CHECK(bytes[0] == 0 && bytes[1] == 0, name << ": wrong IDX magic " << hex32(magic)
                                                  << ", expected " << hex32(want_magic) << " ("
                                                  << what << "); not an IDX file");
  KITE_CHECK(bytes[2] == kUnsignedByteType, name << ": wrong IDX magic " << hex32(magic)
                                                 << ": element type " << hex32(bytes[2]) << " ("
                                                 << type_name(bytes[2]) << "), expected "
                                                 << hex32(want_magic) << " (unsigned bytes)");
  KITE_CHECK(bytes[3] == want_dims, name << ": wrong IDX magic " << hex32(magic) << ": "
                                         << int{bytes[3]} << " dimensions, expected "
                                         << int{want_dims} << " (" << what << ")");

  const size_t header = 4 + 4 * size_t{want_dims};
  KITE_CHECK(bytes.size() >= header, name << ": truncated: " << bytes.size()
                                          << " bytes, shorter than the " << header
                                          << "-byte IDX header");
  std::vector<int64_t> dims;
  // Every dimension is at most 2^32 - 1, so checking against the file size at each step
  // keeps the product far from overflow.
  const size_t available = bytes.size() - header;
  size_t elements = 1;
  bool exceeds_file = false;
  for (uint8_t d = 0; d < want_dims; ++d) {
    const uint32_t dim = read_big_endian32(bytes.data() + 4 + 4 * d);
    KITE_CHECK(dim > 0, name << ": dimension " << int{d} << " is 0 (no " << what << ")");
    dims.push_back(dim);
    if (exceeds_file || elements > available / dim) {
      exceeds_file = true;
    } else {
      elements *= dim;  // stays <= available
    }
  }
  std::ostringstream shape;
  for (size_t d = 0; d < dims.size(); ++d) shape << (d ? "x" : "") << dims[d];
  KITE_CHECK(!exceeds_file && elements <= available,
             name << ": truncated: header announces " << shape.str() << " bytes of data but only "
                  << available << " follow the header");
  KITE_CHECK(elements == available, name << ": " << available - elements
                                         << " unexpected bytes after the " << shape.str()
                                         << " data announced by the header");
  return dims;
}

// Tries each candidate name in `dir`; returns the first that exists.
std::string find_first(const std::string& dir, const std::vector<std::string>& candidates) {
  for (const auto& candidate : candidates) {
    const auto path = std::filesystem::path(dir) / candidate;
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) return path.string();
  }
  std::ostringstream tried;
  for (size_t i = 0; i < candidates.size(); ++i) tried << (i ? ", " : "") << candidates[i];
  KITE_FAIL(dir << ": none of these files exists: " << tried.str());
}

std::vector<std::string> idx_names(const std::string& prefix, const std::string& kind) {
  // MNIST's site uses "train-images-idx3-ubyte"; some mirrors write "train-images.idx3-ubyte".
  const std::vector<std::string> stems = {prefix + "-" + kind + "-" + "idx",
                                          prefix + "-" + kind + ".idx"};
  const std::string dims = kind == "images" ? "3" : "1";
  std::vector<std::string> names;
  for (const auto& stem : stems) {
    names.push_back(stem + dims + "-ubyte.gz");
    names.push_back(stem + dims + "-ubyte");
  }
  return names;
}

ImageSet load_mnist_like(const std::string& dataset, const std::string& dir, Split split) {
  std::error_code ec;
  KITE_CHECK(std::filesystem::is_directory(dir, ec), dataset << ": " << dir << ": no such folder");
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  const std::string images = find_first(dir, idx_names(prefix, "images"));
  const std::string labels = find_first(dir, idx_names(prefix, "labels"));
  ImageSet set = read_idx(images, labels);
  for (int64_t i = 0; i < set.n; ++i) {
    KITE_CHECK(set.labels[i] >= 0 && set.labels[i] <= 9,
               labels << ": label " << set.labels[i] << " of item " << i << " is outside 0..9 ("
                      << dataset << " has 10 classes)");
  }
  return set;
}

}  // namespace

ImageSet parse_idx_images(const std::vector<uint8_t>& bytes, const std::string& name) {
  const auto dims = check_idx_header(bytes, name, 3, "images: count, rows, columns");
  ImageSet set;
  set.n = dims[0];
  set.c = 1;
  set.h = dims[1];
  set.w = dims[2];
  set.pixels.assign(bytes.begin() + 16, bytes.end());
  return set;
}

std::vector<int64_t> parse_idx_labels(const std::vector<uint8_t>& bytes, const std::string& name) {
  check_idx_header(bytes, name, 1, "labels: count");
  return std::vector<int64_t>(bytes.begin() + 8, bytes.end());
}

std::vector<uint8_t> read_maybe_gzipped(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  if (has_suffix(path, ".gz") || looks_gzipped(bytes.data(), bytes.size())) {
    return gunzip(bytes.data(), bytes.size(), path);
  }
  return bytes;
}

ImageSet read_idx(const std::string& images_path, const std::string& labels_path) {
  ImageSet set = parse_idx_images(read_maybe_gzipped(images_path), images_path);
  if (labels_path.empty()) return set;
  set.labels = parse_idx_labels(read_maybe_gzipped(labels_path), labels_path);
  KITE_CHECK(static_cast<int64_t>(set.labels.size()) == set.n,
             "read_idx: " << images_path << " has " << set.n << " images but " << labels_path
                          << " has " << set.labels.size() << " labels");
  return set;
}

ImageSet load_mnist(const std::string& dir, Split split) {
  return load_mnist_like("MNIST", dir, split);
}

ImageSet load_fashion_mnist(const std::string& dir, Split split) {
  return load_mnist_like("Fashion-MNIST", dir, split);
}

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                 "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

}  // namespace kite::data
