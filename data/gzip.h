// In-memory gzip decompression (zlib's inflate with the gzip wrapper).
//
// The MNIST-style datasets ship as .gz files. Decompressing from memory instead of through
// gzread lets us tell a truncated stream from a corrupt one, refuse trailing garbage, and
// fuzz the path without touching the disk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kite::data {

// True when the bytes start with the gzip magic 1f 8b.
bool looks_gzipped(const uint8_t* data, size_t size);

// Decompresses one or more concatenated gzip members. `name` (a file name) goes into the
// error messages. Throws kite::Error on a corrupt or truncated stream, on bytes after the
// last member that are not another member, and when the output would exceed max_output.
std::vector<uint8_t> gunzip(const uint8_t* data, size_t size, const std::string& name,
                            size_t max_output = size_t{1} << 32);

}  // namespace kite::data
