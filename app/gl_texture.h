// An OpenGL texture holding one image for ImGui::Image.
#pragma once

#include <ATen/core/Tensor.h>

#include <imgui.h>

namespace hdv::app {

class GlTexture {
 public:
  GlTexture() = default;
  ~GlTexture() { release(); }
  GlTexture(const GlTexture&) = delete;
  GlTexture& operator=(const GlTexture&) = delete;

  // image: [C, H, W] float in [-1, 1], C in {1, 3, 4}. Needs a current GL context.
  void upload(const at::Tensor& image);
  void release();

  bool valid() const { return id_ != 0; }
  ImTextureID id() const { return reinterpret_cast<ImTextureID>(static_cast<intptr_t>(id_)); }
  int width() const { return width_; }
  int height() const { return height_; }

 private:
  unsigned int id_ = 0;
  int width_ = 0;
  int height_ = 0;
};

}  // namespace hdv::app
