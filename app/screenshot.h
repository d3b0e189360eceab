// Saving the studio window's framebuffer as a PNG (--screenshot, the script's screenshot action).
#pragma once

#include <filesystem>

namespace hdv::app {

// Reads the back buffer (width × height) of the current GL context and writes it atomically.
void save_screenshot(const std::filesystem::path& path, int width, int height);

}  // namespace hdv::app
