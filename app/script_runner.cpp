// ScriptRunner: scripted actions, one per frame (see script_runner.h).
#include "app/script_runner.h"

#include <fmt/format.h>

#include "core/log.h"

namespace hdv::app {

// Frames rendered between an idle worker and the screenshot: new textures are drawn and the
// layout (which ImGui settles over a frame) is final.
constexpr int kScreenshotFrames = 3;
constexpr double kImplicitTimeoutSeconds = 600;

void ScriptRunner::fail(const ScriptAction& action, const std::string& problem) {
  ++failures_;
  core::log_error("{}: {}", action.where, problem);
}

void ScriptRunner::step(Studio& studio) {
  if (sleep_until_) {
    if (std::chrono::steady_clock::now() < *sleep_until_) return;
    sleep_until_.reset();
  }
  if (screenshot_ || next_ >= actions_.size()) return;
  const ScriptAction& action = actions_[next_];
  const bool waits = action.kind != ActionKind::Quit && action.kind != ActionKind::Sleep &&
                     action.kind != ActionKind::Screenshot && !(action.kind == ActionKind::Press && action.name == "cancel");
  if (waits && !studio.idle()) {
    const auto now = std::chrono::steady_clock::now();
    if (!waiting_since_) waiting_since_ = now;
    const double limit = action.kind == ActionKind::WaitIdle ? action.timeout_s : kImplicitTimeoutSeconds;
    if (std::chrono::duration<double>(now - *waiting_since_).count() < limit) return;
    fail(action, fmt::format("timed out after {} s waiting for the worker ({})", limit,
                             studio.progress().kind.empty() ? "queued" : studio.progress().kind));
    studio.cancel();
  }
  waiting_since_.reset();
  ++next_;
  run(action, studio);
}

void ScriptRunner::run(const ScriptAction& action, Studio& studio) {
  core::log_debug("{}", action.where);
  switch (action.kind) {
    case ActionKind::Open:
      studio.open_image(action.path);
      break;
    case ActionKind::Drop:
      studio.open_dropped(std::vector<std::filesystem::path>(action.paths.begin(), action.paths.end()));
      break;
    case ActionKind::LoadModels:
      for (ModelSlot& slot : studio.models) {
        auto it = action.models.find(slot.key);
        if (it != action.models.end()) slot.path = it->second;
      }
      if (auto it = action.models.find("device"); it != action.models.end()) studio.device = it->second;
      studio.load_models();
      break;
    case ActionKind::Sample:
      studio.generate.seed = static_cast<int>(action.seed);
      if (action.psi) studio.generate.psi = static_cast<float>(*action.psi);
      studio.generate.label = action.label;
      studio.generate.mix = action.mix_seed >= 0;
      if (action.mix_seed >= 0) {
        studio.generate.mix_seed = static_cast<int>(action.mix_seed);
        studio.generate.crossover = static_cast<int>(action.crossover);
      }
      studio.sample();
      break;
    case ActionKind::SetPrompt:
      if (action.target) studio.edit.target = *action.target;
      if (action.neutral) studio.edit.neutral = *action.neutral;
      if (studio.edit.live_preview) studio.request_preview();
      break;
    case ActionKind::SetSlider: {
      const auto v = static_cast<float>(action.value);
      const auto i = static_cast<int>(action.value);
      if (action.name == "strength") studio.edit.strength = v;
      if (action.name == "beta") studio.edit.beta = v;
      if (action.name == "psi") studio.generate.psi = v;
      if (action.name == "crossover") studio.generate.crossover = i;
      if (action.name == "invert_steps") studio.generate.invert_steps = i;
      if (action.name == "invert_vl_weight") studio.generate.invert_vl_weight = v;
      if (action.name == "optimise_steps") studio.edit.optimise_steps = i;
      if (action.name == "sr_steps") studio.sr.steps = i;
      if (action.name == "sr_scale") studio.sr.scale = i;
      if (action.name == "sr_candidates") studio.sr.candidates = i;
      if ((action.name == "strength" || action.name == "beta") && studio.edit.live_preview) studio.request_preview();
      break;
    }
    case ActionKind::Press:
      if (action.name == "load_models") studio.load_models();
      if (action.name == "sample") studio.sample();
      if (action.name == "edit") studio.apply_edit();
      if (action.name == "optimise") studio.optimise_edit();
      if (action.name == "invert") studio.invert();
      if (action.name == "super_resolve") studio.super_resolve();
      if (action.name == "use_candidate") studio.use_sr_candidate(studio.sr_view.selected);
      if (action.name == "undo") studio.undo();
      if (action.name == "redo") studio.redo();
      if (action.name == "cancel") studio.cancel();
      break;
    case ActionKind::WaitIdle:
      break;  // the wait happened in step()
    case ActionKind::Sleep:
      sleep_until_ = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(action.seconds));
      break;
    case ActionKind::SaveImage:
      studio.save_image(action.path);
      break;
    case ActionKind::Screenshot:
      screenshot_ = action.path;
      screenshot_frames_ = kScreenshotFrames;
      break;
    case ActionKind::ExpectError:
      if (studio.last_error.empty()) {
        fail(action, fmt::format("no error is shown; expected one containing \"{}\"", action.contains));
      } else if (studio.last_error.find(action.contains) == std::string::npos) {
        fail(action, fmt::format("the error shown is \"{}\"; expected one containing \"{}\"", studio.last_error,
                                 action.contains));
      } else {
        core::log_info("{}: the window shows the expected error", action.where);
      }
      break;
    case ActionKind::Quit:
      next_ = actions_.size();
      break;
  }
}

std::optional<std::string> ScriptRunner::screenshot_due() {
  if (!screenshot_) return std::nullopt;
  if (--screenshot_frames_ > 0) return std::nullopt;
  return screenshot_;
}

void ScriptRunner::screenshot_saved(const std::string& error) {
  if (!error.empty()) {
    ++failures_;
    core::log_error("screenshot: {}", error);
  }
  screenshot_.reset();
}

}  // namespace hdv::app
