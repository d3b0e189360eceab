// Script parsing for --script (see script.h): every field checked, errors name file[index] and field.
#include "app/script.h"

#include <set>

#include <fmt/format.h>

#include "core/atomic_file.h"
#include "core/config.h"

namespace hdv::app {
namespace {

using core::Json;

struct ActionSpec {
  ActionKind kind;
  std::string_view name;
  std::vector<std::string_view> fields;  // besides "action"
};

const std::vector<ActionSpec>& action_specs() {
  static const std::vector<ActionSpec> specs = {
      {ActionKind::Open, "open", {"path"}},
      {ActionKind::Drop, "drop", {"paths"}},
      {ActionKind::LoadModels, "load_models", {"generator", "vl_model", "directions", "oracle", "device"}},
      {ActionKind::Sample, "sample", {"seed", "psi", "mix_seed", "crossover", "label"}},
      {ActionKind::SetPrompt, "set_prompt", {"target", "neutral"}},
      {ActionKind::SetSlider, "set_slider", {"name", "value"}},
      {ActionKind::Press, "press", {"button"}},
      {ActionKind::WaitIdle, "wait_idle", {"timeout_s"}},
      {ActionKind::Sleep, "sleep", {"seconds"}},
      {ActionKind::SaveImage, "save_image", {"path"}},
      {ActionKind::Screenshot, "screenshot", {"path"}},
      {ActionKind::ExpectError, "expect_error", {"contains"}},
      {ActionKind::Quit, "quit", {}},
  };
  return specs;
}

std::string join(const std::vector<std::string_view>& names, std::string_view last_sep) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? last_sep : ", ";
    out += names[i];
  }
  return out;
}

// Reads one action's fields; every error names the action.
class FieldReader {
 public:
  FieldReader(const Json& object, std::string where) : object_(object), where_(std::move(where)) {}

  [[noreturn]] void fail(std::string_view field, const std::string& problem) const {
    throw ScriptError(fmt::format("{}: field \"{}\": {}", where_, field, problem));
  }
  bool has(std::string_view field) const { return object_.contains(std::string(field)); }
  const Json& get(std::string_view field) const {
    if (!has(field)) fail(field, "required");
    return object_.at(std::string(field));
  }
  std::string string(std::string_view field) const {
    const Json& v = get(field);
    if (!v.is_string()) fail(field, "expected a string, got " + core::describe_json_value(v));
    return v.get<std::string>();
  }
  std::string path(std::string_view field) const {
    std::string p = string(field);
    if (p.empty()) fail(field, "expected a file path, got an empty string");
    return p;
  }
  int64_t integer(std::string_view field, int64_t min) const {
    const Json& v = get(field);
    if (!v.is_number_integer()) fail(field, "expected an integer, got " + core::describe_json_value(v));
    const int64_t x = v.get<int64_t>();
    if (x < min) fail(field, fmt::format("expected an integer >= {}, got {}", min, x));
    return x;
  }
  double number(std::string_view field) const {
    const Json& v = get(field);
    if (!v.is_number()) fail(field, "expected a number, got " + core::describe_json_value(v));
    return v.get<double>();
  }

 private:
  const Json& object_;
  std::string where_;
};

ScriptAction parse_action(const Json& item, const std::string& source, size_t index) {
  const std::string at = fmt::format("{}[{}]", source, index);
  if (!item.is_object()) {
    throw ScriptError(fmt::format("{}: expected an action object, got {}", at, core::describe_json_value(item)));
  }
  if (!item.contains("action")) throw ScriptError(fmt::format("{}: field \"action\": required", at));
  const Json& name_json = item.at("action");
  if (!name_json.is_string()) {
    throw ScriptError(
        fmt::format("{}: field \"action\": expected a string, got {}", at, core::describe_json_value(name_json)));
  }
  const std::string name = name_json.get<std::string>();
  const ActionSpec* spec = nullptr;
  for (const ActionSpec& s : action_specs()) {
    if (s.name == name) spec = &s;
  }
  if (spec == nullptr) {
    std::vector<std::string_view> known;
    for (const ActionSpec& s : action_specs()) known.push_back(s.name);
    throw ScriptError(fmt::format("{}: unknown action \"{}\" (known: {})", at, name, join(known, ", ")));
  }
  ScriptAction action;
  action.kind = spec->kind;
  action.where = fmt::format("{} ({})", at, name);
  for (auto it = item.begin(); it != item.end(); ++it) {
    if (it.key() == "action") continue;
    bool known = false;
    for (std::string_view f : spec->fields) known = known || f == it.key();
    if (!known) {
      throw ScriptError(fmt::format("{}: unknown field \"{}\" (fields of {}: {})", action.where, it.key(), name,
                                    spec->fields.empty() ? std::string("none") : join(spec->fields, ", ")));
    }
  }
  const FieldReader r(item, action.where);
  switch (action.kind) {
    case ActionKind::Open:
    case ActionKind::SaveImage:
    case ActionKind::Screenshot:
      action.path = r.path("path");
      break;
    case ActionKind::Drop: {
      const Json& list = r.get("paths");
      if (!list.is_array() || list.empty()) {
        r.fail("paths", "expected a non-empty array of file paths, got " + core::describe_json_value(list));
      }
      for (size_t i = 0; i < list.size(); ++i) {
        if (!list[i].is_string() || list[i].get<std::string>().empty()) {
          r.fail(fmt::format("paths[{}]", i), "expected a file path, got " + core::describe_json_value(list[i]));
        }
        action.paths.push_back(list[i].get<std::string>());
      }
      break;
    }
    case ActionKind::LoadModels:
      for (std::string_view f : spec->fields) {
        if (r.has(f)) action.models[std::string(f)] = r.string(f);
      }
      if (action.models.empty()) {
        throw ScriptError(fmt::format("{}: give at least one of {}", action.where, join(spec->fields, ", ")));
      }
      break;
    case ActionKind::Sample:
      action.seed = r.integer("seed", 0);
      if (r.has("psi")) {
        action.psi = r.number("psi");
        if (*action.psi < 0 || *action.psi > 1) r.fail("psi", fmt::format("expected a number in [0, 1], got {}", *action.psi));
      }
      if (r.has("mix_seed")) action.mix_seed = r.integer("mix_seed", 0);
      if (r.has("crossover")) action.crossover = r.integer("crossover", 0);
      if (r.has("label")) action.label = r.string("label");
      break;
    case ActionKind::SetPrompt:
      if (r.has("target")) action.target = r.string("target");
      if (r.has("neutral")) action.neutral = r.string("neutral");
      if (!action.target && !action.neutral) {
        throw ScriptError(fmt::format("{}: give \"target\" and/or \"neutral\"", action.where));
      }
      break;
    case ActionKind::SetSlider: {
      action.name = r.string("name");
      const SliderRange* range = nullptr;
      std::vector<std::string_view> names;
      for (const SliderRange& s : script_sliders()) {
        names.push_back(s.name);
        if (s.name == action.name) range = &s;
      }
      if (range == nullptr) r.fail("name", fmt::format("expected {}, got \"{}\"", join(names, " or "), action.name));
      action.value = r.number("value");
      if (action.value < range->min || action.value > range->max) {
        r.fail("value", fmt::format("{} must be in [{}, {}], got {}", action.name, range->min, range->max, action.value));
      }
      if (action.name == "sr_scale" && action.value != 4 && action.value != 8 && action.value != 16) {
        r.fail("value", fmt::format("sr_scale must be 4, 8 or 16, got {}", action.value));
      }
      break;
    }
    case ActionKind::Press: {
      action.name = r.string("button");
      bool known = false;
      for (std::string_view b : script_buttons()) known = known || b == action.name;
      if (!known) r.fail("button", fmt::format("expected {}, got \"{}\"", join(script_buttons(), " or "), action.name));
      break;
    }
    case ActionKind::WaitIdle:
      if (r.has("timeout_s")) {
        action.timeout_s = r.number("timeout_s");
        if (action.timeout_s <= 0) r.fail("timeout_s", fmt::format("expected a number > 0, got {}", action.timeout_s));
      }
      break;
    case ActionKind::Sleep:
      action.seconds = r.number("seconds");
      if (action.seconds < 0 || action.seconds > 3600) {
        r.fail("seconds", fmt::format("expected a number in [0, 3600], got {}", action.seconds));
      }
      break;
    case ActionKind::ExpectError:
      action.contains = r.string("contains");
      break;
    case ActionKind::Quit:
      break;
  }
  return action;
}

}  // namespace

const std::vector<SliderRange>& script_sliders() {
  static const std::vector<SliderRange> sliders = {
      {"strength", -15, 25},       {"beta", 0.08, 0.4},          {"psi", 0, 1},
      {"crossover", 0, 64},        {"invert_steps", 1, 5000},    {"optimise_steps", 1, 5000},
      {"sr_steps", 1, 5000},       {"sr_scale", 4, 16},          {"sr_candidates", 1, 16},
      {"invert_vl_weight", 0, 1},
  };
  return sliders;
}

const std::vector<std::string_view>& script_buttons() {
  static const std::vector<std::string_view> buttons = {"load_models", "sample", "edit", "optimise", "invert", "super_resolve", "use_candidate", "undo", "redo", "cancel"};
  return buttons;
}

std::string_view action_name(ActionKind kind) {
  for (const ActionSpec& s : action_specs()) {
    if (s.kind == kind) return s.name;
  }
  return "?";
}

std::vector<ScriptAction> parse_script(std::string_view text, const std::string& source) {
  Json json;
  try {
    json = core::parse_json(text, source);
  } catch (const core::Error& e) {
    throw ScriptError(e.what());
  }
  if (!json.is_array()) {
    throw ScriptError(fmt::format("{}: expected a JSON array of actions, got {}", source, core::describe_json_value(json)));
  }
  std::vector<ScriptAction> actions;
  for (size_t i = 0; i < json.size(); ++i) actions.push_back(parse_action(json[i], source, i));
  return actions;
}

std::vector<ScriptAction> read_script(const std::filesystem::path& path) {
  std::string text;
  try {
    text = core::read_file(path);
  } catch (const core::Error& e) {
    throw ScriptError(e.what());
  }
  return parse_script(text, path.string());
}

}  // namespace hdv::app
