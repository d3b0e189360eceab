// ConsoleProgress: terminal bar or periodic plain lines (see progress.h).
#include "core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "core/log.h"

namespace hdv::core {
namespace {

constexpr double kBarRedrawSeconds = 0.1;   // terminal redraw interval
constexpr double kLineIntervalSeconds = 10;  // plain-line interval when not on a terminal

}  // namespace

ConsoleProgress::ConsoleProgress(std::string label, std::string unit, ProgressStyle style)
    : label_(std::move(label)), unit_(std::move(unit)), style_(style),
      start_(std::chrono::steady_clock::now()) {
  if (style_ == ProgressStyle::Auto) {
    if (log_level() > LogLevel::Info) {
      style_ = ProgressStyle::Silent;
    } else {
      style_ = isatty(fileno(stderr)) ? ProgressStyle::Bar : ProgressStyle::Lines;
    }
  }
}

ConsoleProgress::~ConsoleProgress() {
  if (!finished_ && step_ > 0) finish();
}

std::string ConsoleProgress::format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<int64_t>(std::llround(seconds));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

std::string ConsoleProgress::render(const std::string& label, const std::string& unit,
                                    int64_t step, int64_t total, double seconds, int bar_width) {
  double rate = seconds > 0 ? double(step) / seconds : 0.0;
  std::string rate_text = rate >= 1.0 || rate == 0.0 ? fmt::format("{:.1f} {}/s", rate, unit)
                                                     : fmt::format("{:.1f} s/{}", 1.0 / rate, unit);
  if (total <= 0) {
    return fmt::format("{}: {} {} | {} | {}", label, step, unit, rate_text, format_duration(seconds));
  }
  double fraction = std::min(1.0, double(step) / double(total));
  std::string bar;
  if (bar_width > 0) {
    const int filled = std::clamp(int(fraction * bar_width), 0, bar_width);
    bar.assign(static_cast<size_t>(bar_width) + 3, '.');
    bar.front() = '[';
    bar[bar_width + 1] = ']';
    bar.back() = ' ';
    std::fill_n(bar.begin() + 1, filled, '#');
  }
  double eta = rate > 0 ? double(total - step) / rate : NAN;
  return fmt::format("{}: {}{:3.0f}% {}/{} {} | {} | elapsed {} | eta {}", label, bar,
                     100.0 * fraction, step, total, unit, rate_text, format_duration(seconds),
                     step >= total ? "0s" : format_duration(eta));
}

void ConsoleProgress::update(int64_t step, int64_t total) {
  step_ = step;
  total_ = total;
  if (style_ == ProgressStyle::Silent) return;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double interval = style_ == ProgressStyle::Bar ? kBarRedrawSeconds : kLineIntervalSeconds;
  if (seconds - last_draw_ < interval && step < total) return;
  last_draw_ = seconds;
  drawn_step_ = step;
  if (style_ == ProgressStyle::Bar) {
    std::string line = render(label_, unit_, step, total, seconds, 30);
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
  } else {
    log_info("{}", render(label_, unit_, step, total, seconds, 0));
  }
  std::fflush(stderr);
}

void ConsoleProgress::finish() {
  if (finished_) return;
  finished_ = true;
  if (style_ == ProgressStyle::Silent) return;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (style_ == ProgressStyle::Bar) {
    std::string line = render(label_, unit_, step_, total_, seconds, 30);
    std::fprintf(stderr, "\r%s\033[K\n", line.c_str());
    std::fflush(stderr);
  } else if (drawn_step_ != step_) {
    log_info("{}", render(label_, unit_, step_, total_, seconds, 0));
  }
}

ProgressCallback ConsoleProgress::callback() {
  return [this](int64_t step, int64_t total, double /*seconds*/) { update(step, total); };
}

}  // namespace hdv::core
