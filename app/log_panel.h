// The studio's Log panel: lines from the core log sink (any thread), newest at the bottom, coloured
// by level (imgui_demo.cpp's ExampleAppLog is the model).
#pragma once

#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "core/log.h"

namespace hdv::app {

class LogPanel {
 public:
  // Thread-safe: called by the log sink.
  void add(core::LogLevel level, std::string_view message);
  // Draws the lines in a child region of `height` pixels (UI thread).
  void draw(float height);

 private:
  static constexpr size_t kMaxLines = 500;
  std::mutex mutex_;
  std::deque<std::pair<core::LogLevel, std::string>> lines_;
  bool scroll_to_end_ = true;
};

}  // namespace hdv::app
