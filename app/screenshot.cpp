// save_screenshot: glReadPixels into a PNG (see screenshot.h).
#include "app/screenshot.h"

#include <torch/torch.h>

#include <GL/gl.h>

#include <vector>

#include "core/image_io.h"

namespace hdv::app {

void save_screenshot(const std::filesystem::path& path, int width, int height) {
  std::vector<unsigned char> pixels(static_cast<size_t>(width) * height * 3);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE, pixels.data());
  // GL rows go up.
  at::Tensor hwc = torch::from_blob(pixels.data(), {height, width, 3}, torch::kUInt8).flip(0).contiguous();
  core::save_png(path, core::from_uint8_hwc(hwc));
}

}  // namespace hdv::app
