// Settings: where the studio's JSON settings live, reading and writing them (see settings.h).
#include "app/settings.h"

#include <cstdlib>

#include <fmt/format.h>

#include "core/config.h"
#include "core/error.h"

namespace hdv::app {

void Settings::validate() const {
  if (window_width < 320 || window_width > 16384) {
    throw core::ConfigError(fmt::format("settings: window_width={} must be in [320, 16384]", window_width));
  }
  if (window_height < 240 || window_height > 16384) {
    throw core::ConfigError(fmt::format("settings: window_height={} must be in [240, 16384]", window_height));
  }
  if (!(sidebar_width >= 200 && sidebar_width <= 4000)) {
    throw core::ConfigError(fmt::format("settings: sidebar_width={} must be in [200, 4000]", sidebar_width));
  }
}

std::optional<std::filesystem::path> settings_path(const std::string& flag, bool headless) {
  if (!flag.empty()) return std::filesystem::path(flag);
  const char* env = std::getenv("HDV_STUDIO_SETTINGS");
  if (env != nullptr && *env != '\0') return std::filesystem::path(env);
  if (headless) return std::nullopt;
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && *xdg != '\0') return std::filesystem::path(xdg) / "hdvila" / "studio.json";
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return std::nullopt;
  return std::filesystem::path(home) / ".config" / "hdvila" / "studio.json";
}

Settings load_settings(const std::filesystem::path& path) {
  Settings settings;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return settings;
  core::config_from_json(core::read_json_file(path), settings, path.string());
  try {
    settings.validate();
  } catch (const core::ConfigError& e) {
    throw core::ConfigError(fmt::format("{}: {}", path.string(), e.what()));
  }
  return settings;
}

void save_settings(const std::filesystem::path& path, const Settings& settings) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  core::write_json_file(path, core::config_to_json(settings));
}

}  // namespace hdv::app
