// Tensor metadata, raw access and printing (see tensor.h).
#include "engine/tensor.h"

#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/error.h"

namespace kite {

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape) KITE_CHECK(s >= 0, "empty: negative size in shape " << shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(numel_of(shape) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  impl->device = device;
  return Tensor(std::move(impl));
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  KITE_CHECK(static_cast<int64_t>(values.size()) == numel_of(shape),
             "from_vector: " << values.size() << " values do not fill shape " << shape_str(shape));
  Tensor out = empty(shape, dtype_of<T>());
  if (!values.empty()) std::memcpy(out.raw_data(), values.data(), values.size() * sizeof(T));
  return out;
}
template Tensor Tensor::from_vector(const std::vector<float>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<double>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<int64_t>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<uint8_t>&, const Shape&);

void Tensor::throw_undefined() { throw Error("use of an undefined tensor"); }

int64_t Tensor::size(int64_t axis) const { return shape()[normalize_axis(axis, dim(), "size")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl()->storage->data()) + offset() * dtype_size(dtype());
}

template <class T>
T* Tensor::data_ptr() const {
  KITE_CHECK(dtype() == dtype_of<T>(), "data_ptr: tensor is " << dtype_name(dtype())
                                                              << ", asked for "
                                                              << dtype_name(dtype_of<T>()));
  return static_cast<T*>(raw_data());
}
template float* Tensor::data_ptr() const;
template double* Tensor::data_ptr() const;
template int64_t* Tensor::data_ptr() const;
template uint8_t* Tensor::data_ptr() const;

template <class T>
T Tensor::item() const {
  KITE_CHECK(numel() == 1, "item: tensor has " << numel() << " elements, expected 1");
  if (device().is_cpu()) {
    return visit_dtype(dtype(), "item", [&](auto tag) {
      return static_cast<T>(*static_cast<const decltype(tag)*>(raw_data()));
    });
  }
  return static_cast<T>(to_double_vector(*this)[0]);
}
template float Tensor::item() const;
template double Tensor::item() const;
template int64_t Tensor::item() const;
template uint8_t Tensor::item() const;

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = impl_->dtype;
  impl->device = impl_->device;
  return Tensor(std::move(impl));
}

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  KITE_CHECK(is_leaf(),
             "set_requires_grad: only leaf tensors can change requires_grad; "
             "use detach() to make a new leaf");
  KITE_CHECK(
      !requires_grad || is_floating(dtype()),
      "set_requires_grad: only floating tensors can require grad, got " << dtype_name(dtype()));
  impl()->requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::detach() const { return as_strided(shape(), strides(), offset()); }

void Tensor::backward(const Tensor& grad_output, bool create_graph) const {
  autograd::backward({*this}, {grad_output}, create_graph);
}

namespace {

// Copies the bytes a (possibly strided) tensor spans into host memory, so non-CPU
// tensors can be read element by element. Returns a pointer to the first element.
const char* host_view(const Tensor& t, std::vector<char>& buffer) {
  if (t.device().is_cpu()) return static_cast<const char*>(t.raw_data());
  // Bytes from the first element to the last one the strides can reach.
  int64_t span = 1;
  for (int64_t i = 0; i < t.dim(); ++i) span += (t.shape()[i] - 1) * t.strides()[i];
  size_t nbytes = t.numel() == 0 ? 0 : span * dtype_size(t.dtype());
  buffer.resize(nbytes);
  backend_for(t.device().type).copy(buffer.data(), Device::cpu(), t.raw_data(), t.device(), nbytes);
  return buffer.data();
}

template <class Out>
std::vector<Out> gather_elements(const Tensor& t) {
  std::vector<char> buffer;
  const char* base = host_view(t, buffer);
  std::vector<Out> out(t.numel());
  const int64_t dim = t.dim();
  std::vector<int64_t> index(dim, 0);
  visit_dtype(t.dtype(), "to_vector", [&](auto tag) {
    using T = decltype(tag);
    const T* data = reinterpret_cast<const T*>(base);
    for (int64_t n = 0; n < t.numel(); ++n) {
      int64_t pos = 0;
      for (int64_t d = 0; d < dim; ++d) pos += index[d] * t.strides()[d];
      out[n] = static_cast<Out>(data[pos]);
      for (int64_t d = dim - 1; d >= 0; --d) {  // odometer increment
        if (++index[d] < t.shape()[d]) break;
        index[d] = 0;
      }
    }
  });
  return out;
}

void print_recursive(std::ostream& out, const std::vector<double>& values, const Shape& shape,
                     size_t axis, int64_t& pos, int indent, DType dtype) {
  if (axis == shape.size()) {
    if (is_floating(dtype))
      out << std::setw(11) << std::setprecision(4) << values[pos++];
    else
      out << static_cast<int64_t>(values[pos++]);
    return;
  }
  out << "[";
  for (int64_t i = 0; i < shape[axis]; ++i) {
    if (i) {
      out << (axis + 1 == shape.size() ? ", " : ",\n");
      if (axis + 1 < shape.size()) out << std::string(indent + 1, ' ');
    }
    print_recursive(out, values, shape, axis + 1, pos, indent + 1, dtype);
  }
  out << "]";
}

}  // namespace

std::vector<double> to_double_vector(const Tensor& tensor) {
  return gather_elements<double>(tensor);
}
std::vector<int64_t> to_int64_vector(const Tensor& tensor) {
  return gather_elements<int64_t>(tensor);
}

std::string describe(const Tensor& tensor) {
  if (!tensor.defined()) return "undefined tensor";
  std::ostringstream out;
  out << dtype_name(tensor.dtype()) << shape_str(tensor.shape()) << " on " << tensor.device().str();
  return out.str();
}

std::ostream& operator<<(std::ostream& out, const Tensor& tensor) {
  out << "Tensor(" << describe(tensor);
  if (!tensor.defined()) return out << ")";
  if (tensor.requires_grad()) out << ", requires_grad";
  out << ")\n";
  if (tensor.numel() > 1000) return out << "[... " << tensor.numel() << " elements ...]";
  std::vector<double> values = to_double_vector(tensor);
  int64_t pos = 0;
  print_recursive(out, values, tensor.shape(), 0, pos, 0, tensor.dtype());
  return out;
}

}  // namespace kite
