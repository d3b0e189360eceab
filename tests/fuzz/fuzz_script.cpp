// Fuzz target: the studio's action scripts (app/script.h, parse_script). The input is the whole
// script file; every error must be a ScriptError naming it.
#include "app/script.h"
#include "tests/fuzz/fuzz_target.h"

HDV_FUZZ_TARGET(script) {
  using namespace hdv;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean(
      [&] {
        for (const app::ScriptAction& action : app::parse_script(text, "actions.json")) {
          if (action.where.rfind("actions.json[", 0) != 0) fuzz::finding("action where does not name the file", action.where);
        }
      },
      [&](const core::Error& e) {
        if (dynamic_cast<const app::ScriptError*>(&e) == nullptr) fuzz::finding("error is not a ScriptError", e.what());
        fuzz::check_names_input(e, "actions.json");
      });
  return 0;
}
