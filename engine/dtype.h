// Element types a tensor can hold, and the one switch that turns a runtime dtype into a
// compile-time C++ type for a kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/error.h"

namespace kite {

enum class DType : uint8_t { Float32, Float64, Int64, UInt8 };

inline size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return 4;
    case DType::Float64:
      return 8;
    case DType::Int64:
      return 8;
    case DType::UInt8:
      return 1;
  }
  return 0;
}

inline const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return "float32";
    case DType::Float64:
      return "float64";
    case DType::Int64:
      return "int64";
    case DType::UInt8:
      return "uint8";
  }
  return "?";
}

inline bool is_floating(DType dtype) { return dtype == DType::Float32 || dtype == DType::Float64; }

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::Float32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::Float64;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::Int64;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::UInt8;
}

// visit_floating(dtype, "exp", [&](auto tag) { using T = decltype(tag); ... });
// calls the lambda with a value of the C++ type of `dtype`, or throws naming the op.
template <class F>
decltype(auto) visit_floating(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float32:
      return f(float{});
    case DType::Float64:
      return f(double{});
    default:
      break;
  }
  KITE_FAIL(op << ": expected a floating dtype (float32 or float64), got " << dtype_name(dtype));
}

template <class F>
decltype(auto) visit_dtype(DType dtype, [[maybe_unused]] const char* op, F&& f) {
  switch (dtype) {
    case DType::Float32:
      return f(float{});
    case DType::Float64:
      return f(double{});
    case DType::Int64:
      return f(int64_t{});
    case DType::UInt8:
      return f(uint8_t{});
  }
  KITE_FAIL(op << ": unknown dtype");
}

}  // namespace kite
