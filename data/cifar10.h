// CIFAR-10 in its binary form: data_batch_1.bin .. data_batch_5.bin and test_batch.bin.
//
// Each file is a run of 3073-byte records: one label byte (0..9), then the 32x32 image as
// 1024 red, 1024 green and 1024 blue bytes, rows top to bottom, which is already CHW.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image_set.h"

namespace kite::data {

inline constexpr int64_t kCifar10RecordBytes = 1 + 3 * 32 * 32;

// Decodes records already in memory; `name` goes into error messages.
ImageSet parse_cifar10_batch(const std::vector<uint8_t>& bytes, const std::string& name);

// Reads one batch file.
ImageSet read_cifar10_batch(const std::string& path);

// Reads the five training batches or the test batch from `dir`, or from
// `dir`/cifar-10-batches-bin when that is where the archive unpacked them.
ImageSet load_cifar10(const std::string& dir, Split split);

// The ten CIFAR-10 class names, by label.
const std::vector<std::string>& cifar10_class_names();

}  // namespace kite::data
