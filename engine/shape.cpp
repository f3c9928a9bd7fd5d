// Shape helpers (see shape.h).
#include "engine/shape.h"

#include <algorithm>
#include <sstream>

#include "engine/error.h"

namespace kite {

int64_t numel_of(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i] > 0 ? shape[i] : 1;
  }
  return strides;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t dim = std::max(a.size(), b.size());
  Shape out(dim);
  for (size_t i = 0; i < dim; ++i) {
    int64_t sa = i < dim - a.size() ? 1 : a[i - (dim - a.size())];
    int64_t sb = i < dim - b.size() ? 1 : b[i - (dim - b.size())];
    KITE_CHECK(sa == sb || sa == 1 || sb == 1, op << ": shapes " << shape_str(a) << " and "
                                                  << shape_str(b) << " cannot be broadcast");
    out[i] = sa == 1 ? sb : sa;
  }
  return out;
}

int64_t normalize_axis(int64_t axis, int64_t dim, const char* op) {
  int64_t lo = dim == 0 ? -1 : -dim, hi = dim == 0 ? 0 : dim - 1;
  KITE_CHECK(axis >= lo && axis <= hi,
             op << ": axis " << axis << " is out of range for a tensor of dimension " << dim);
  return axis < 0 ? axis + (dim == 0 ? 1 : dim) : axis;
}

}  // namespace kite
