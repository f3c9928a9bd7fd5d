// IDX files: the format of MNIST and Fashion-MNIST, plain or gzip-compressed.
//
// An IDX file is a 4-byte magic (two zero bytes, an element type, a dimension count), one
// big-endian uint32 per dimension, then the elements in row-major order. Images are
// unsigned bytes with 3 dimensions (magic 0x00000803: count, rows, columns); labels are
// unsigned bytes with 1 dimension (magic 0x00000801).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image_set.h"

namespace kite::data {

// Where Debian's dataset-fashion-mnist package puts the files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Decoders of IDX bytes already in memory (decompressed); `name` goes into error messages.
// The size must match the header exactly: a short file is truncated, a long one is not IDX.
ImageSet parse_idx_images(const std::vector<uint8_t>& bytes, const std::string& name);
std::vector<int64_t> parse_idx_labels(const std::vector<uint8_t>& bytes, const std::string& name);

// Reads a file and gunzips it when it starts with the gzip magic. A file named *.gz must
// be gzip data.
std::vector<uint8_t> read_maybe_gzipped(const std::string& path);

// Reads an image file and, unless labels_path is empty, its label file (same count).
ImageSet read_idx(const std::string& images_path, const std::string& labels_path);

// Finds the files of one split in `dir` under the usual names (train-images-idx3-ubyte,
// train-images.idx3-ubyte, each optionally .gz; t10k-* for the test split) and reads them.
// Labels must lie in 0..9.
ImageSet load_mnist(const std::string& dir, Split split);
ImageSet load_fashion_mnist(const std::string& dir, Split split);
inline ImageSet load_fashion_mnist(Split split) {
  return load_fashion_mnist(kFashionMnistDir, split);
}

// The ten Fashion-MNIST class names, by label.
const std::vector<std::string>& fashion_mnist_class_names();

}  // namespace kite::data
