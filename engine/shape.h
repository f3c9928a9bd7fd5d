// Shapes and strides: vectors of int64 kept inside the tensor (engine/small_vector.h: up to six
// axes need no heap allocation), with the helpers every op needs (element counts, contiguous
// strides, numpy broadcasting, axis normalisation).
#pragma once

#include <cstdint>
#include <string>

#include "engine/small_vector.h"

namespace kite {

using Shape = SmallVector<int64_t, 6>;
// A list of axes (each may be negative, counting from the last), as reductions and permute
// take them.
using Axes = SmallVector<int64_t, 6>;

int64_t numel_of(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3]"

// numpy broadcasting of two shapes; throws naming `op` when they are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Maps a possibly negative axis into [0, dim); throws naming `op` when out of range.
int64_t normalize_axis(int64_t axis, int64_t dim, const char* op);

}  // namespace kite
