// Time-code parsing (see timecode.h).
#include "core/timecode.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"

namespace hdv::core {
namespace {

// Parses an unsigned decimal with an optional fraction; false on anything else.
bool parse_number(std::string_view text, bool allow_fraction, double& out) {
  if (text.empty()) return false;
  double value = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] != '.'; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  if (i == 0) return false;
  if (i < text.size()) {
    if (!allow_fraction || i + 1 == text.size()) return false;
    double scale = 0.1;
    for (++i; i < text.size(); ++i, scale /= 10) {
      if (text[i] < '0' || text[i] > '9') return false;
      value += (text[i] - '0') * scale;
    }
  }
  out = value;
  return true;
}

}  // namespace

double parse_timecode(std::string_view text, std::string_view what) {
  auto fail = [&]() {
    return FormatError(fmt::format("{}: expected HH:MM:SS.mmm, got \"{}\"", what, text));
  };
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == ':') {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  if (parts.empty() || parts.size() > 3) throw fail();
  double seconds = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    bool last = i + 1 == parts.size();
    double value = 0;
    if (!parse_number(parts[i], last, value)) throw fail();
    if (i > 0 && value >= 60) throw fail();  // minutes and seconds fields stay below 60
    seconds = seconds * 60 + value;
  }
  return seconds;
}

std::string format_timecode(double seconds) {
  auto millis = static_cast<int64_t>(std::llround(std::max(0.0, seconds) * 1000));
  return fmt::format("{:02}:{:02}:{:02}.{:03}", millis / 3600000, (millis / 60000) % 60, (millis / 1000) % 60,
                     millis % 1000);
}

TimeSpan parse_time_span(std::string_view text, std::string_view what) {
  auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    throw FormatError(fmt::format("{}: expected START-END (HH:MM:SS.mmm-HH:MM:SS.mmm), got \"{}\"", what, text));
  }
  TimeSpan span;
  span.start = parse_timecode(text.substr(0, dash), fmt::format("{} start", what));
  span.end = parse_timecode(text.substr(dash + 1), fmt::format("{} end", what));
  if (span.end <= span.start) {
    throw FormatError(fmt::format("{}: end {} is not after start {}", what, format_timecode(span.end),
                                  format_timecode(span.start)));
  }
  return span;
}

}  // namespace hdv::core
