// Tensor-level safetensors I/O (see checkpoint.h) on top of the raw format in safetensors.h.
#include "engine/checkpoint.h"

#include <cstring>

#include "engine/safetensors.h"

namespace kite {
namespace {

safetensors::DTypeCode to_code(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return safetensors::DTypeCode::F32;
    case DType::Float64:
      return safetensors::DTypeCode::F64;
    case DType::Int64:
      return safetensors::DTypeCode::I64;
    case DType::UInt8:
      return safetensors::DTypeCode::U8;
  }
  KITE_FAIL("checkpoint: unknown dtype");
}

DType from_code(safetensors::DTypeCode code) {
  switch (code) {
    case safetensors::DTypeCode::F32:
      return DType::Float32;
    case safetensors::DTypeCode::F64:
      return DType::Float64;
    case safetensors::DTypeCode::I64:
      return DType::Int64;
    case safetensors::DTypeCode::U8:
      return DType::UInt8;
  }
  KITE_FAIL("checkpoint: unknown dtype code");
}

// Row-major bytes of any tensor, gathered element by element through its strides.
std::vector<uint8_t> tensor_bytes(const Tensor& t) {
  std::vector<uint8_t> bytes(t.numel() * dtype_size(t.dtype()));
  if (t.device().is_cpu() && t.is_contiguous()) {
    if (!bytes.empty()) std::memcpy(bytes.data(), t.raw_data(), bytes.size());
    return bytes;
  }
  visit_dtype(t.dtype(), "save_checkpoint", [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, int64_t>) {
      std::vector<int64_t> values = to_int64_vector(t);
      std::memcpy(bytes.data(), values.data(), bytes.size());
    } else {
      std::vector<double> values = to_double_vector(t);
      T* out = reinterpret_cast<T*>(bytes.data());
      for (size_t i = 0; i < values.size(); ++i) out[i] = static_cast<T>(values[i]);
    }
  });
  return bytes;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  safetensors::File file;
  file.metadata = checkpoint.metadata;
  for (const auto& [name, tensor] : checkpoint.tensors) {
    KITE_CHECK(tensor.defined(),
               "save_checkpoint: tensor '" << name << "' is undefined (" << path << ")");
    safetensors::RawTensor raw;
    raw.dtype = to_code(tensor.dtype());
    raw.shape = tensor.shape();
    raw.bytes = tensor_bytes(tensor);
    file.tensors.emplace(name, std::move(raw));
  }
  safetensors::write(path, file);
}

Checkpoint load_checkpoint(const std::string& path) {
  safetensors::File file = safetensors::read(path);
  Checkpoint checkpoint;
  checkpoint.metadata = std::move(file.metadata);
  for (auto& [name, raw] : file.tensors) {
    Tensor t = Tensor::empty(raw.shape, from_code(raw.dtype));
    if (!raw.bytes.empty()) std::memcpy(t.raw_data(), raw.bytes.data(), raw.bytes.size());
    checkpoint.tensors.emplace(name, t);
  }
  return checkpoint;
}

}  // namespace kite
