// The one exception type of the project, and the check macro that builds its message.
//
// Messages carry context (op name, shapes, dtypes, devices, file names) so that a user
// reading one line knows what went wrong and where. Binaries catch kite::Error at main,
// print the message and exit 1.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace kite {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace kite

// KITE_CHECK(cond, "op: shapes " << a << " and " << b << " differ")
#define KITE_CHECK(cond, ...)                        \
  do {                                               \
    if (!(cond)) {                                   \
      std::ostringstream kite_check_stream_;         \
      kite_check_stream_ << __VA_ARGS__;             \
      throw ::kite::Error(kite_check_stream_.str()); \
    }                                                \
  } while (0)

#define KITE_FAIL(...)                             \
  do {                                             \
    std::ostringstream kite_check_stream_;         \
    kite_check_stream_ << __VA_ARGS__;             \
    throw ::kite::Error(kite_check_stream_.str()); \
  } while (0)
