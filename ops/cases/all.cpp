// all_op_cases(): the rows of every family, in a stable order; and constant_like, which the
// rows share.
#include "ops/cases/op_cases.h"
#include "ops/factory.h"

namespace kite {

Tensor constant_like(const std::vector<double>& values, const Shape& shape, const Tensor& like) {
  return to_device(to_dtype(Tensor::from_vector(values, shape), like.dtype()), like.device());
}

std::vector<OpCase> all_op_cases() {
  std::vector<OpCase> all;
  for (auto family :
       {elementwise_op_cases, activation_op_cases, reduce_op_cases, shape_op_cases, linalg_op_cases,
        loss_op_cases, factory_op_cases, det_op_cases, nn_op_cases}) {
    std::vector<OpCase> rows = family();
    all.insert(all.end(), rows.begin(), rows.end());
  }
  return all;
}

}  // namespace kite
