// GlTexture: upload [C, H, W] images as RGBA8 textures (see gl_texture.h).
#include "app/gl_texture.h"

#include <torch/torch.h>

#include <GL/gl.h>

#include "core/image_io.h"

namespace hdv::app {

void GlTexture::upload(const at::Tensor& image) {
  at::Tensor hwc = core::to_uint8_hwc(image);
  if (hwc.size(2) == 1) hwc = hwc.expand({hwc.size(0), hwc.size(1), 3});
  if (hwc.size(2) == 3) hwc = torch::cat({hwc, torch::full({hwc.size(0), hwc.size(1), 1}, 255, torch::kUInt8)}, 2);
  hwc = hwc.contiguous();
  if (id_ == 0) glGenTextures(1, &id_);
  glBindTexture(GL_TEXTURE_2D, id_);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  width_ = static_cast<int>(hwc.size(1));
  height_ = static_cast<int>(hwc.size(0));
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, width_, height_, 0, GL_RGBA, GL_UNSIGNED_BYTE, hwc.data_ptr());
}

void GlTexture::release() {
  if (id_ != 0) glDeleteTextures(1, &id_);
  id_ = 0;
}

}  // namespace hdv::app
