// The super-resolution results in the image area: the low-resolution input, the bicubic baseline
// and every candidate (best first) side by side; clicking a candidate selects it for "Use".
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "app/gl_texture.h"
#include "app/studio.h"

namespace hdv::app {

class SRGrid {
 public:
  // Draws into the current ImGui window (UI thread, GL context current).
  void draw(Studio& studio);
  void release() { textures_.clear(); }
  // New results arrived since the last draw (the image area switches to them once).
  bool has_new(const Studio& studio) const { return studio.sr_view.version != version_; }

 private:
  std::vector<std::unique_ptr<GlTexture>> textures_;  // input, bicubic, candidates...
  uint64_t version_ = 0;
};

}  // namespace hdv::app
