// Progress rendering: rate, percentage and ETA text.
#include <gtest/gtest.h>

#include "core/progress.h"

namespace hdv::core {
namespace {

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(ConsoleProgress::format_duration(5.2), "5s");
  EXPECT_EQ(ConsoleProgress::format_duration(192), "3m12s");
  EXPECT_EQ(ConsoleProgress::format_duration(7260), "2h01m");
}

TEST(Progress, RendersBarRateAndEta) {
  std::string line = ConsoleProgress::render("decoding", "frames", 25, 100, 5.0, 10);
  EXPECT_EQ(line, "decoding: [##........]  25% 25/100 frames | 5.0 frames/s | elapsed 5s | eta 15s");
}

TEST(Progress, SlowStepsShowSecondsPerStep) {
  std::string line = ConsoleProgress::render("training", "steps", 1, 4, 20.0, 0);
  EXPECT_EQ(line, "training:  25% 1/4 steps | 20.0 s/steps | elapsed 20s | eta 1m00s");
}

TEST(Progress, UnknownTotalShowsCountOnly) {
  EXPECT_EQ(ConsoleProgress::render("reading", "lines", 30, 0, 3.0, 10), "reading: 30 lines | 10.0 lines/s | 3s");
}

}  // namespace
}  // namespace hdv::core
