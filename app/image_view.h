// The studio's image area: the current image (or live preview) large, with zoom (fit, or a factor;
// mouse wheel over the image) and a before/after split slider against the reference image, or the
// two side by side (an inversion's reconstruction beside the original).
#pragma once

#include <cstdint>

#include "app/gl_texture.h"
#include "app/studio.h"

namespace hdv::app {

class ImageView {
 public:
  // Draws into the current ImGui window (UI thread, GL context current).
  void draw(const Studio& studio);
  void release();

  bool fit = true;       // scale to the area
  float zoom = 1.0f;     // pixels per image pixel when !fit
  float split = 0.5f;    // share of the width showing "before"
  bool compare = true;   // split against the reference image
  bool side_by_side = false;

 private:
  GlTexture after_, before_;
  uint64_t version_ = ~uint64_t{0};
};

}  // namespace hdv::app
