// The table-driven gradient check: every row of all_op_cases(), float64, first order on
// contiguous and strided inputs, second order where the row asks for it.
#include <gtest/gtest.h>

#include "ops/cases/check.h"

namespace kite {
namespace {

class OpTable : public ::testing::TestWithParam<OpCase> {};

}  // namespace

// Lets GoogleTest (and so ctest's listing) show a case by its name.
void PrintTo(const OpCase& op_case, std::ostream* out) { *out << op_case.name; }

namespace {

TEST_P(OpTable, Gradcheck) {
  const OpCase& op_case = GetParam();
  for (bool noncontiguous : {false, true}) {
    if (noncontiguous && !op_case.noncontiguous) continue;
    OpCaseCheck check = check_op_case(op_case, noncontiguous);
    EXPECT_TRUE(check.first_order.ok)
        << op_case.name << (noncontiguous ? " (strided)" : "") << ": " << check.first_order.message;
    EXPECT_TRUE(check.second_order.ok) << op_case.name << (noncontiguous ? " (strided)" : "")
                                       << ": " << check.second_order.message;
  }
}

std::string case_name(const ::testing::TestParamInfo<OpCase>& info) {
  std::string name = std::to_string(info.index) + "_" + info.param.name;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpTable, ::testing::ValuesIn(all_op_cases()), case_name);

}  // namespace
}  // namespace kite
