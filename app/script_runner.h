// Runs a parsed --script (script.h) against the Studio, one action per frame.
//
// Every action except `press cancel`, `sleep`, `screenshot` and `quit` first waits until the
// worker is idle (`wait_idle` with its own timeout, the others up to 600 s), so a script reads as
// a sequence: sample, then edit, then save what the edit made. `screenshot` and `sleep` do not
// wait, so a script can capture a running job (its progress bar); put `wait_idle` before a
// screenshot of a finished result. Runtime errors of an action (a corrupt image, a wrong checkpoint) are
// shown in the window like any other and the script goes on; only a failed expect_* or a
// wait that times out counts as a failure (the studio then exits 1).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "app/script.h"
#include "app/studio.h"

namespace hdv::app {

class ScriptRunner {
 public:
  explicit ScriptRunner(std::vector<ScriptAction> actions) : actions_(std::move(actions)) {}

  // Once per frame, after studio.poll().
  void step(Studio& studio);
  bool finished() const { return next_ >= actions_.size() && !screenshot_ && !sleep_until_; }
  int failures() const { return failures_; }

  // After rendering a frame: the path of a screenshot to save now, if one is due. The frame loop
  // saves it and reports back with screenshot_saved (error "" = written).
  std::optional<std::string> screenshot_due();
  void screenshot_saved(const std::string& error);

 private:
  void fail(const ScriptAction& action, const std::string& problem);
  void run(const ScriptAction& action, Studio& studio);

  std::vector<ScriptAction> actions_;
  size_t next_ = 0;
  int failures_ = 0;
  std::optional<std::chrono::steady_clock::time_point> waiting_since_;
  std::optional<std::chrono::steady_clock::time_point> sleep_until_;
  std::optional<std::string> screenshot_;
  int screenshot_frames_ = 0;
};

}  // namespace hdv::app
