// The progress bar of the binaries (apps/common/progress.h) as a log sees it (stderr is not a
// terminal under ctest): a line every ten percent, the final count once, a line for a run cut
// short.
#include <gtest/gtest.h>

#include <string>

#include "apps/common/progress.h"

namespace kite::apps {
namespace {

int count_of(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(ProgressBarLog, OneLinePerTenPercentAndTheEndOnce) {
  ::testing::internal::CaptureStderr();
  {
    ProgressBar bar("work", 100, "img");
    for (int i = 0; i < 100; ++i) bar.update(1);
    bar.finish();
  }
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(count_of(log, "\n"), 10) << log;  // 10%, 20%, ..., 100%
  EXPECT_EQ(count_of(log, "100/100"), 1) << log;
  EXPECT_EQ(count_of(log, "work  50% |##########          | 50/100"), 1) << log;
}

TEST(ProgressBarLog, AnUnfinishedRunEndsWithItsCount) {
  ::testing::internal::CaptureStderr();
  {
    ProgressBar bar("work", 100);
    bar.update(37);  // a new ten-percent step: printed
    bar.update(1);   // the same step: not printed until the end
  }                  // the destructor finishes it
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(count_of(log, "\n"), 2) << log;
  EXPECT_EQ(count_of(log, "37/100"), 1) << log;
  EXPECT_EQ(count_of(log, "38/100"), 1) << log;
  EXPECT_EQ(format_duration(83), "01:23");
  EXPECT_EQ(format_duration(3723), "1:02:03");
}

}  // namespace
}  // namespace kite::apps
