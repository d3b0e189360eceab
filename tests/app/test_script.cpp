// Script parsing (app/script.h): every action's fields, and the exact errors for malformed scripts.
#include <gtest/gtest.h>

#include "app/script.h"
#include "../core/test_support.h"

namespace hdv::app {
namespace {

using test::error_text;

std::string parse_error(const std::string& text) {
  return error_text<ScriptError>([&] { parse_script(text, "s.json"); });
}

TEST(Script, ParsesEveryAction) {
  const std::vector<ScriptAction> actions = parse_script(R"([
    {"action": "open", "path": "in.png"},
    {"action": "drop", "paths": ["g.safetensors", "in.png"]},
    {"action": "load_models", "generator": "g.safetensors", "vl_model": "v.safetensors", "device": "cpu"},
    {"action": "sample", "seed": 7, "psi": 0.5, "mix_seed": 2, "crossover": 3},
    {"action": "set_prompt", "target": "a red shirt", "neutral": "a shirt"},
    {"action": "set_slider", "name": "beta", "value": 0.2},
    {"action": "press", "button": "super_resolve"},
    {"action": "wait_idle", "timeout_s": 5},
    {"action": "sleep", "seconds": 0.5},
    {"action": "save_image", "path": "out.png"},
    {"action": "screenshot", "path": "shot.png"},
    {"action": "expect_error", "contains": "cannot decode"},
    {"action": "quit"}])",
                                                         "s.json");
  ASSERT_EQ(actions.size(), 13u);
  EXPECT_EQ(actions[0].kind, ActionKind::Open);
  EXPECT_EQ(actions[0].path, "in.png");
  EXPECT_EQ(actions[0].where, "s.json[0] (open)");
  EXPECT_EQ(actions[1].paths, (std::vector<std::string>{"g.safetensors", "in.png"}));
  EXPECT_EQ(actions[2].models, (std::map<std::string, std::string>{
                                   {"device", "cpu"}, {"generator", "g.safetensors"}, {"vl_model", "v.safetensors"}}));
  EXPECT_EQ(actions[3].seed, 7);
  EXPECT_DOUBLE_EQ(*actions[3].psi, 0.5);
  EXPECT_EQ(actions[3].mix_seed, 2);
  EXPECT_EQ(actions[3].crossover, 3);
  EXPECT_EQ(*actions[4].target, "a red shirt");
  EXPECT_EQ(*actions[4].neutral, "a shirt");
  EXPECT_EQ(actions[5].name, "beta");
  EXPECT_DOUBLE_EQ(actions[5].value, 0.2);
  EXPECT_EQ(actions[6].name, "super_resolve");
  EXPECT_DOUBLE_EQ(actions[7].timeout_s, 5.0);
  EXPECT_DOUBLE_EQ(actions[8].seconds, 0.5);
  EXPECT_EQ(actions[9].kind, ActionKind::SaveImage);
  EXPECT_EQ(actions[10].kind, ActionKind::Screenshot);
  EXPECT_EQ(actions[11].contains, "cannot decode");
  EXPECT_EQ(actions[12].kind, ActionKind::Quit);
  EXPECT_EQ(action_name(ActionKind::LoadModels), "load_models");
}

TEST(Script, DefaultsOfOptionalFields) {
  const std::vector<ScriptAction> actions =
      parse_script(R"([{"action": "sample", "seed": 0}, {"action": "wait_idle"}, {"action": "set_prompt", "target": "x"}])", "s.json");
  EXPECT_FALSE(actions[0].psi.has_value());
  EXPECT_EQ(actions[0].mix_seed, -1);
  EXPECT_DOUBLE_EQ(actions[1].timeout_s, 600.0);
  EXPECT_FALSE(actions[2].neutral.has_value());
}

TEST(Script, MalformedScriptsNameFileIndexAndField) {
  EXPECT_EQ(parse_error(R"({"action": "quit"})"), "s.json: expected a JSON array of actions, got an object");
  EXPECT_EQ(parse_error(R"([{"action": "quit"}, 3])"), "s.json[1]: expected an action object, got integer 3");
  EXPECT_EQ(parse_error(R"([{"path": "x.png"}])"), "s.json[0]: field \"action\": required");
  EXPECT_EQ(parse_error(R"([{"action": 5}])"), "s.json[0]: field \"action\": expected a string, got integer 5");
  EXPECT_EQ(parse_error(R"([{"action": "fly"}])"),
            "s.json[0]: unknown action \"fly\" (known: open, drop, load_models, sample, set_prompt, set_slider, press, "
            "wait_idle, sleep, save_image, screenshot, expect_error, quit)");
  EXPECT_EQ(parse_error(R"([{"action": "open", "paht": "x.png"}])"),
            "s.json[0] (open): unknown field \"paht\" (fields of open: path)");
  EXPECT_EQ(parse_error(R"([{"action": "quit", "now": true}])"),
            "s.json[0] (quit): unknown field \"now\" (fields of quit: none)");
  EXPECT_EQ(parse_error(R"([{"action": "open"}])"), "s.json[0] (open): field \"path\": required");
  EXPECT_EQ(parse_error(R"([{"action": "open", "path": ""}])"),
            "s.json[0] (open): field \"path\": expected a file path, got an empty string");
  EXPECT_EQ(parse_error(R"([{"action": "sample", "seed": "3"}])"),
            "s.json[0] (sample): field \"seed\": expected an integer, got string \"3\"");
  EXPECT_EQ(parse_error(R"([{"action": "sample", "seed": -1}])"),
            "s.json[0] (sample): field \"seed\": expected an integer >= 0, got -1");
  EXPECT_EQ(parse_error(R"([{"action": "sample", "seed": 1, "psi": 1.5}])"),
            "s.json[0] (sample): field \"psi\": expected a number in [0, 1], got 1.5");
  EXPECT_EQ(parse_error(R"([{"action": "set_slider", "name": "gamma", "value": 1}])"),
            "s.json[0] (set_slider): field \"name\": expected strength, beta, psi, crossover, invert_steps, "
            "optimise_steps, sr_steps, sr_scale, sr_candidates or invert_vl_weight, got \"gamma\"");
  EXPECT_EQ(parse_error(R"([{"action": "set_slider", "name": "beta", "value": 0.5}])"),
            "s.json[0] (set_slider): field \"value\": beta must be in [0.08, 0.4], got 0.5");
  EXPECT_EQ(parse_error(R"([{"action": "set_slider", "name": "sr_scale", "value": 6}])"),
            "s.json[0] (set_slider): field \"value\": sr_scale must be 4, 8 or 16, got 6");
  EXPECT_EQ(parse_error(R"([{"action": "press", "button": "paint"}])"),
            "s.json[0] (press): field \"button\": expected load_models, sample, edit, optimise, invert, "
            "super_resolve, use_candidate, undo, redo or cancel, got \"paint\"");
  EXPECT_EQ(parse_error(R"([{"action": "wait_idle", "timeout_s": 0}])"),
            "s.json[0] (wait_idle): field \"timeout_s\": expected a number > 0, got 0");
  EXPECT_EQ(parse_error(R"([{"action": "drop", "paths": []}])"),
            "s.json[0] (drop): field \"paths\": expected a non-empty array of file paths, got an array of 0");
  EXPECT_EQ(parse_error(R"([{"action": "drop", "paths": ["a.png", 2]}])"),
            "s.json[0] (drop): field \"paths[1]\": expected a file path, got integer 2");
  EXPECT_EQ(parse_error(R"([{"action": "load_models"}])"),
            "s.json[0] (load_models): give at least one of generator, vl_model, directions, oracle, device");
  EXPECT_EQ(parse_error(R"([{"action": "set_prompt"}])"), "s.json[0] (set_prompt): give \"target\" and/or \"neutral\"");
  EXPECT_EQ(parse_error(R"([{"action": "expect_error", "contains": 1}])"),
            "s.json[0] (expect_error): field \"contains\": expected a string, got integer 1");
  EXPECT_NE(parse_error("[{").find("s.json"), std::string::npos);
}

TEST(Script, UnreadableFileIsAScriptError) {
  const std::string message = error_text<ScriptError>([] { read_script("/no/such/actions.json"); });
  EXPECT_NE(message.find("/no/such/actions.json"), std::string::npos) << message;
}

}  // namespace
}  // namespace hdv::app
