// Tensor: a cheap handle to shared storage plus shape, strides, offset, dtype and device,
// and the autograd fields (requires_grad, grad, grad_fn).
//
// This class knows nothing about ops: arithmetic, views with autograd, factories like zeros
// and randn are free functions in ops/ (`kite::add(a, b)`, `a + b`, `kite::reshape(x, {..})`).
// What lives here is what every layer needs: metadata, raw data access and autograd state.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/shape.h"
#include "engine/storage.h"

namespace kite {

class Node;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;       // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;
  Device device;

  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;         // the node that produced this tensor (null for leaves)
  std::shared_ptr<TensorImpl> grad;      // accumulated gradient of a leaf
  std::weak_ptr<Node> grad_accumulator;  // a leaf's AccumulateGrad node, shared by all its uses
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Uninitialised contiguous memory. (Factories that fill live in ops/factory.h.)
  static Tensor empty(const Shape& shape, DType dtype = DType::Float32,
                      Device device = Device::cpu());
  // Copies host values into a new CPU tensor of the matching dtype.
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl()->shape; }
  const Shape& strides() const { return impl()->strides; }
  int64_t offset() const { return impl()->offset; }
  int64_t dim() const { return static_cast<int64_t>(impl()->shape.size()); }
  int64_t size(int64_t axis) const;  // negative axes count from the end
  int64_t numel() const { return numel_of(impl()->shape); }
  DType dtype() const { return impl()->dtype; }
  Device device() const { return impl()->device; }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl()->storage; }

  // Pointer to the first element (storage base + offset). Checks the dtype.
  template <class T>
  T* data_ptr() const;
  void* raw_data() const;
  // The single element of a CPU tensor with one element, converted to T.
  template <class T>
  T item() const;

  // A view with new metadata over the same storage, without autograd. View ops in ops/
  // build on it and record their own backward.
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;

  // Autograd state.
  bool requires_grad() const { return impl()->requires_grad; }
  Tensor& set_requires_grad(bool requires_grad);  // leaves only
  bool is_leaf() const { return impl()->grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return impl()->grad_fn; }
  Tensor grad() const { return Tensor(impl()->grad); }
  void set_grad(const Tensor& grad) { impl()->grad = grad.impl_; }
  void zero_grad() { impl()->grad.reset(); }
  // Same storage and metadata, cut from the graph.
  Tensor detach() const;
  // Reverse-mode differentiation from this tensor (see engine/autograd.h).
  void backward(const Tensor& grad_output = Tensor(), bool create_graph = false) const;

  // Inline: every accessor above goes through it, on every op. The throw is out of line.
  TensorImpl* impl() const {
    if (impl_ == nullptr) [[unlikely]]
      throw_undefined();
    return impl_.get();
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  [[noreturn]] static void throw_undefined();
  std::shared_ptr<TensorImpl> impl_;
};

// Every element as a double, in row-major order, from any device and any layout.
std::vector<double> to_double_vector(const Tensor& tensor);
// Same, for integer tensors without rounding worries.
std::vector<int64_t> to_int64_vector(const Tensor& tensor);

// "Tensor(shape=[2, 3], dtype=float32, device=cpu)\n[[...], [...]]", eliding large tensors.
std::ostream& operator<<(std::ostream& out, const Tensor& tensor);
// One-line description used in error messages: "float32[2, 3] on cpu".
std::string describe(const Tensor& tensor);

}  // namespace kite
