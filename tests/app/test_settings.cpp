// Settings (app/settings.h): the file's location, round trip, unknown keys and bad values.
#include <gtest/gtest.h>

#include <cstdlib>

#include "app/settings.h"
#include "core/error.h"
#include "../core/test_support.h"

namespace hdv::app {
namespace {

using test::error_text;
using test::TempDir;

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value, 1); else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1); else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Settings, RoundTrip) {
  TempDir dir;
  Settings settings;
  settings.last_folder = "/data/photos";
  settings.window_width = 1600;
  settings.window_height = 900;
  settings.sidebar_width = 480;
  save_settings(dir / "sub" / "studio.json", settings);
  const Settings loaded = load_settings(dir / "sub" / "studio.json");
  EXPECT_EQ(loaded.last_folder, "/data/photos");
  EXPECT_EQ(loaded.window_width, 1600);
  EXPECT_EQ(loaded.window_height, 900);
  EXPECT_FLOAT_EQ(loaded.sidebar_width, 480.0f);
}

TEST(Settings, MissingFileGivesDefaults) {
  TempDir dir;
  const Settings loaded = load_settings(dir / "none.json");
  EXPECT_EQ(loaded.window_width, 1280);
  EXPECT_EQ(loaded.last_folder, "");
}

TEST(Settings, BadFilesNameTheKey) {
  TempDir dir;
  test::write_bytes(dir / "a.json", R"({"window_width": 800, "colour": "red"})");
  EXPECT_EQ(error_text<core::ConfigError>([&] { load_settings(dir / "a.json"); }),
            (dir / "a.json").string() + ": key \"colour\": unknown key");
  test::write_bytes(dir / "b.json", R"({"window_width": "wide"})");
  EXPECT_EQ(error_text<core::ConfigError>([&] { load_settings(dir / "b.json"); }),
            (dir / "b.json").string() + ": key \"window_width\": expected an integer, got string \"wide\"");
  test::write_bytes(dir / "c.json", R"({"window_width": 10})");
  EXPECT_EQ(error_text<core::ConfigError>([&] { load_settings(dir / "c.json"); }),
            (dir / "c.json").string() + ": settings: window_width=10 must be in [320, 16384]");
}

TEST(Settings, PathFromFlagEnvironmentOrConfigHome) {
  ScopedEnv studio("HDV_STUDIO_SETTINGS", nullptr);
  ScopedEnv xdg("XDG_CONFIG_HOME", "/cfg");
  ScopedEnv home("HOME", "/home/me");
  EXPECT_EQ(settings_path("/tmp/s.json", true), std::filesystem::path("/tmp/s.json"));
  EXPECT_EQ(settings_path("", false), std::filesystem::path("/cfg/hdvila/studio.json"));
  EXPECT_FALSE(settings_path("", true).has_value());  // headless: never the user's file
  {
    ScopedEnv no_xdg("XDG_CONFIG_HOME", nullptr);
    EXPECT_EQ(settings_path("", false), std::filesystem::path("/home/me/.config/hdvila/studio.json"));
  }
  ScopedEnv named("HDV_STUDIO_SETTINGS", "/tmp/env.json");
  EXPECT_EQ(settings_path("", true), std::filesystem::path("/tmp/env.json"));
}

}  // namespace
}  // namespace hdv::app
