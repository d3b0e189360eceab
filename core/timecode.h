// Time codes as HD-VILA-100M writes clip spans: "HH:MM:SS.mmm" (also "MM:SS.mmm", "SS.mmm").
#pragma once

#include <string>
#include <string_view>

namespace hdv::core {

// Seconds from a time code; throws FormatError naming `what` (e.g. "span start") on bad text.
double parse_timecode(std::string_view text, std::string_view what = "time code");

// "00:01:02.500" for 62.5 seconds.
std::string format_timecode(double seconds);

struct TimeSpan {
  double start = 0;  // seconds
  double end = 0;    // seconds, > start
};

// "HH:MM:SS.mmm-HH:MM:SS.mmm" (a dash between the two) -> TimeSpan.
TimeSpan parse_time_span(std::string_view text, std::string_view what = "span");

}  // namespace hdv::core
