// Runs the gradient checks of one op case: inputs drawn from the case's domains in float64,
// optionally handed to the op as strided (non-contiguous) views, first order always and
// second order when the case asks for it. Shared by tests/gradcheck/op_table.cpp and
// apps/gradcheck so both check exactly the same thing.
#pragma once

#include "engine/gradcheck.h"
#include "ops/cases/op_cases.h"

namespace kite {

struct OpCaseCheck {
  GradcheckResult first_order;
  GradcheckResult second_order;  // ok and zero errors when not run
  bool ran_second_order = false;
  bool ok() const { return first_order.ok && second_order.ok; }
};

// Inputs for a case: float64 leaves requiring grad, int64 for index inputs.
std::vector<Tensor> make_case_inputs(const OpCase& op_case, uint64_t seed);

OpCaseCheck check_op_case(const OpCase& op_case, bool noncontiguous, uint64_t seed = 7,
                          const GradcheckOptions& options = {});

}  // namespace kite
