// The studio's persisted settings: last folder, window size, sidebar width (a small JSON file).
//
// Where: --settings PATH, else $HDV_STUDIO_SETTINGS, else $XDG_CONFIG_HOME/hdvila/studio.json,
// else ~/.config/hdvila/studio.json. Headless runs (--screenshot, --script) read and write no
// settings file unless one is named by the flag or the variable, so tests never touch $HOME.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace hdv::app {

struct Settings {
  std::string last_folder;   // folder the file browser opens in ("" = the current directory)
  int window_width = 1280;   // pixels
  int window_height = 800;   // pixels
  float sidebar_width = 400; // pixels at scale 1

  template <class V>
  void fields(V& v) {
    v("last_folder", last_folder);
    v("window_width", window_width);
    v("window_height", window_height);
    v("sidebar_width", sidebar_width);
  }
  // Throws core::ConfigError naming the field.
  void validate() const;
};

// The settings file to use: `flag` if given, else the environment's (see above); nullopt when
// `headless` and neither the flag nor $HDV_STUDIO_SETTINGS names one.
std::optional<std::filesystem::path> settings_path(const std::string& flag, bool headless);

// Reads `path` over the defaults; a missing file gives the defaults. Errors name the path and key.
Settings load_settings(const std::filesystem::path& path);
// Writes atomically, creating the folder.
void save_settings(const std::filesystem::path& path, const Settings& settings);

}  // namespace hdv::app
