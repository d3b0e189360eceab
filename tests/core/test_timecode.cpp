// Time codes as HD-VILA-100M spans use them.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/timecode.h"
#include "test_support.h"

namespace hdv::core {
namespace {

TEST(Timecode, ParsesHoursMinutesSecondsAndMillis) {
  EXPECT_DOUBLE_EQ(parse_timecode("00:00:00.000"), 0.0);
  EXPECT_NEAR(parse_timecode("01:02:03.456"), 3723.456, 1e-9);
  EXPECT_NEAR(parse_timecode("02:30.5"), 150.5, 1e-9);
  EXPECT_NEAR(parse_timecode("7.25"), 7.25, 1e-9);
  EXPECT_DOUBLE_EQ(parse_timecode("00:01:00"), 60.0);
}

TEST(Timecode, FormatsWithMillis) {
  EXPECT_EQ(format_timecode(3723.456), "01:02:03.456");
  EXPECT_EQ(format_timecode(0.0005), "00:00:00.001");
}

TEST(Timecode, RejectsMalformedText) {
  for (const char* bad : {"", "1:2:3:4", "aa:bb:cc", "00:61:00.000", "00:00:75", "00:00:01.", "-1", "00::01"}) {
    HDV_EXPECT_THROW_MSG(parse_timecode(bad, "span start"), FormatError,
                         std::string("span start: expected HH:MM:SS.mmm, got \"") + bad + "\"");
  }
}

TEST(Timecode, ParsesSpans) {
  TimeSpan span = parse_time_span("00:00:01.500-00:00:03.000");
  EXPECT_DOUBLE_EQ(span.start, 1.5);
  EXPECT_DOUBLE_EQ(span.end, 3.0);
  HDV_EXPECT_THROW_MSG(parse_time_span("00:00:03.000-00:00:01.000", "--span"), FormatError,
                       "--span: end 00:00:01.000 is not after start 00:00:03.000");
  HDV_EXPECT_THROW_MSG(parse_time_span("00:00:03.000", "--span"), FormatError, "--span: expected START-END");
}

}  // namespace
}  // namespace hdv::core
