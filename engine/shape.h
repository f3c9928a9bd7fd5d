// Shapes and strides: plain vectors of int64 with the helpers every op needs
// (element counts, contiguous strides, numpy broadcasting, axis normalisation).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kite {

using Shape = std::vector<int64_t>;

int64_t numel_of(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3]"

// numpy broadcasting of two shapes; throws naming `op` when they are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Maps a possibly negative axis into [0, dim); throws naming `op` when out of range.
int64_t normalize_axis(int64_t axis, int64_t dim, const char* op);

}  // namespace kite
