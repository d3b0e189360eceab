// Scripted studio sessions (--script actions.json): a JSON array of actions run in order, one per
// frame, waiting where needed. Tests and the docs drive a real window with them under Xvfb.
//
//   [{"action": "load_models", "generator": "g.safetensors", "vl_model": "v.safetensors"},
//    {"action": "sample", "seed": 3},
//    {"action": "set_prompt", "target": "a red shirt"},
//    {"action": "press", "button": "edit"},
//    {"action": "save_image", "path": "edited.png"}]
//
// The whole file is parsed and checked before the window opens: an unknown action, an unknown or
// missing field, a wrong type or an out-of-range value is a ScriptError naming the file, the
// action's index and the field (exit status 2). See docs/studio.md for every action.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace hdv::app {

// The script file is malformed; the message names the file, the action index and the field.
class ScriptError : public core::UsageError {
 public:
  using core::UsageError::UsageError;
};

enum class ActionKind {
  Open, Drop, LoadModels, Sample, SetPrompt, SetSlider, Press, WaitIdle, Sleep, SaveImage, Screenshot, ExpectError, Quit
};

struct ScriptAction {
  ActionKind kind = ActionKind::Quit;
  std::string where;  // "actions.json[3] (press)", for messages at run time

  std::string path;                           // open, save_image, screenshot
  std::vector<std::string> paths;             // drop: files dropped on the window
  std::map<std::string, std::string> models;  // load_models: generator, vl_model, directions, oracle, device
  int64_t seed = 0;                           // sample
  std::optional<double> psi;                  // sample (default: the Generate panel's ψ)
  int64_t mix_seed = -1, crossover = 0;       // sample: style mixing (mix_seed -1 = none)
  std::string label;                          // sample: a conditional generator's labels ("" = from the seed)
  std::optional<std::string> target, neutral; // set_prompt
  std::string name;                           // set_slider: slider name; press: button name
  double value = 0;                           // set_slider
  double timeout_s = 600;                     // wait_idle
  double seconds = 0;                         // sleep
  std::string contains;                       // expect_error
};

// Slider names for set_slider with their ranges, and press buttons (for messages and the docs).
struct SliderRange {
  std::string_view name;
  double min, max;
};
const std::vector<SliderRange>& script_sliders();
const std::vector<std::string_view>& script_buttons();
std::string_view action_name(ActionKind kind);

// Parses script text; `source` names it in errors. Throws ScriptError.
std::vector<ScriptAction> parse_script(std::string_view text, const std::string& source);
// Reads and parses a script file. Throws ScriptError (also for an unreadable file).
std::vector<ScriptAction> read_script(const std::filesystem::path& path);

}  // namespace hdv::app
