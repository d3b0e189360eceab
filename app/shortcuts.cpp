// handle_shortcuts: the studio's keyboard shortcuts (see shortcuts.h).
#include "app/shortcuts.h"

#include <GLFW/glfw3.h>
#include <imgui.h>

namespace hdv::app {

void handle_shortcuts(Studio& studio, Panels& panels) {
  const ImGuiIO& io = ImGui::GetIO();
  if (io.WantTextInput) return;
  // ImGui 1.86 indexes keys by the backend's codes (GLFW_KEY_*).
  const auto pressed = [](int key) { return ImGui::IsKeyPressed(key, false); };
  if (pressed(GLFW_KEY_ESCAPE) && !studio.idle()) studio.cancel();
  if (!io.KeyCtrl) return;
  if (pressed(GLFW_KEY_Z)) {
    if (io.KeyShift) studio.redo(); else studio.undo();
  }
  if (pressed(GLFW_KEY_Y)) studio.redo();
  if (pressed(GLFW_KEY_S)) panels.choose_save_path();
  if (pressed(GLFW_KEY_O)) panels.choose_image_to_open();
  if (pressed(GLFW_KEY_R)) studio.sample();
  if (pressed(GLFW_KEY_ENTER)) studio.apply_edit();
}

}  // namespace hdv::app
