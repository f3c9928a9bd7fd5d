// NumPy's .npy array format: encoding and decoding of single arrays in memory.
//
// Layout (format version 1.0): the magic "\x93NUMPY", the version bytes 1 0, a little-endian
// uint16 header length, then an ASCII Python dict literal such as
//   {'descr': '<f8', 'fortran_order': False, 'shape': (3, 3), }
// padded with spaces and ended by '\n' so that the data starts at a multiple of 64 bytes,
// then the raw elements. Versions 2.0 and 3.0 (uint32 header length) are read too.
// Supported element types ("descr"): float64 and float32 in either byte order (converted
// to float64 on request), uint8 ('|u1'), and unicode strings ('<U n', UTF-32 code units),
// which carry the metadata text of statistics files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kite::metrics {

struct NpyArray {
  std::string descr;  // numpy dtype string, e.g. "<f8"
  bool fortran_order = false;
  std::vector<std::size_t> shape;  // empty for a 0-d array
  std::vector<std::uint8_t> data;  // the elements' bytes exactly as stored

  std::size_t element_count() const;  // product of shape (1 for 0-d)
};

// Bytes of a version 1.0 .npy file holding `array` (its data is written as is).
std::vector<std::uint8_t> encode_npy(const NpyArray& array);

// Parses .npy bytes. `context` (e.g. "stats.npz: mu.npy") prefixes every error message.
// Checks the magic, the header syntax, the element type and that the data has exactly
// the size the header announces.
NpyArray decode_npy(const std::vector<std::uint8_t>& bytes, const std::string& context);

// A little-endian float64 array ('<f8', C order) with the given shape.
NpyArray npy_from_float64(const double* values, std::vector<std::size_t> shape);

// The elements as float64 in C (row-major) order, from '<f8', '>f8', '<f4' or '>f4' data
// in either C or Fortran order. Other types throw kite::Error naming `context`.
std::vector<double> npy_to_float64(const NpyArray& array, const std::string& context);

// A 0-d unicode array ('<U n') holding UTF-8 `text` (numpy shows it as a str).
NpyArray npy_from_text(const std::string& text);

// The UTF-8 text of a unicode array ('<U n', trailing NULs dropped as numpy does) or of a
// uint8 array ('|u1', the bytes as they are).
std::string npy_to_text(const NpyArray& array, const std::string& context);

}  // namespace kite::metrics
