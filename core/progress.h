// Progress reporting for long operations.
//
// Library code takes a ProgressCallback (step, total, seconds since start) and calls it as work
// advances; it never draws anything itself. Programs turn a callback into output with
// ConsoleProgress: a bar with rate and ETA on a terminal, plain periodic lines otherwise (logs, CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace hdv::core {

// step: units done so far (0..total); total: units overall (0 if unknown); seconds: since start.
using ProgressCallback = std::function<void(int64_t step, int64_t total, double seconds)>;

enum class ProgressStyle { Auto, Bar, Lines, Silent };

class ConsoleProgress {
 public:
  // label: what is being done ("decoding frames"); unit: what a step is ("frames").
  // Auto picks Bar when stderr is a terminal, Lines otherwise, Silent under --quiet.
  ConsoleProgress(std::string label, std::string unit, ProgressStyle style = ProgressStyle::Auto);
  ~ConsoleProgress();

  void update(int64_t step, int64_t total);
  // Draws the final state and ends the line (called by the destructor if not before).
  void finish();
  // A callback bound to this object, for passing to library code.
  ProgressCallback callback();

  // "1.5 it/s", "3m12s" — exposed for tests and other front ends.
  static std::string format_duration(double seconds);
  // One rendered line for the given state (no terminal control characters).
  static std::string render(const std::string& label, const std::string& unit, int64_t step,
                            int64_t total, double seconds, int bar_width);

 private:
  std::string label_;
  std::string unit_;
  ProgressStyle style_;
  std::chrono::steady_clock::time_point start_;
  double last_draw_ = -1e9;
  int64_t step_ = 0;
  int64_t drawn_step_ = -1;  // step shown by the last line drawn
  int64_t total_ = 0;
  bool finished_ = false;
};

}  // namespace hdv::core
