// Where the bundled default models and samples live.
//
// Search order: $HDV_ASSETS, then assets/ beside the source tree the binary was built from, then
// <prefix>/share/hdvila/assets next to an installed binary.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace hdv::core {

// The assets folder in use (may not exist yet on a tree without bundled models).
std::filesystem::path assets_dir();

// assets/models/<file_name>: the bundled default a program uses when no model flag is given.
std::filesystem::path default_model_path(std::string_view file_name);

// <source or install tree>/scripts/<file_name>: the Python helpers the importers run (found beside
// the assets folder, as assets_dir() finds it).
std::filesystem::path script_path(std::string_view file_name);

// The set-up's venv interpreter: $HDV_VENV/bin/python, else ~/.cache/hdvila/venv/bin/python.
std::string default_python();

}  // namespace hdv::core
