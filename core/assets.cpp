// Locating the bundled assets (see assets.h).
#include "core/assets.h"

#include <unistd.h>

#include <cstdlib>

namespace hdv::core {
namespace {

std::filesystem::path executable_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : exe.parent_path();
}

}  // namespace

std::filesystem::path assets_dir() {
  if (const char* env = std::getenv("HDV_ASSETS"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
  std::filesystem::path source_assets = HDV_SOURCE_ASSETS_DIR;
  if (std::filesystem::is_directory(source_assets, ec)) return source_assets;
  std::filesystem::path installed = executable_dir() / ".." / "share" / "hdvila" / "assets";
  if (std::filesystem::is_directory(installed, ec)) return installed.lexically_normal();
  return source_assets;
}

std::filesystem::path default_model_path(std::string_view file_name) {
  return assets_dir() / "models" / std::string(file_name);
}

std::filesystem::path script_path(std::string_view file_name) {
  return (assets_dir() / ".." / "scripts" / std::string(file_name)).lexically_normal();
}

std::string default_python() {
  if (const char* venv = std::getenv("HDV_VENV"); venv != nullptr && *venv != '\0') {
    return (std::filesystem::path(venv) / "bin" / "python").string();
  }
  const char* home = std::getenv("HOME");
  return (std::filesystem::path(home != nullptr ? home : "") / ".cache" / "hdvila" / "venv" / "bin" / "python").string();
}

}  // namespace hdv::core
