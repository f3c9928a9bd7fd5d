// Whole-file reads and writes with errors that name the file.
//
// The decoders in data/ all work on bytes in memory: it keeps them free of I/O, lets the
// fuzz tests feed them mutated buffers, and makes "the file is shorter than its header
// says" a plain length comparison.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kite::data {

// Reads the whole file. Throws kite::Error if it is missing, a folder, or unreadable.
std::vector<uint8_t> read_file_bytes(const std::string& path);

// Writes bytes to `path` through a temporary file renamed into place, so a reader never
// sees half a file (a training run rewriting its sample grid while someone views it).
void write_file_bytes(const std::string& path, const std::vector<uint8_t>& bytes);

// Case-insensitive test of a file name's ending, e.g. has_suffix("A.PNG", ".png").
bool has_suffix(const std::string& name, const std::string& suffix);

}  // namespace kite::data
