// all_op_cases(): the rows of every family, in a stable order.
#include "ops/cases/op_cases.h"

namespace kite {

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
