// SRGrid: the grid of super-resolution candidates (see sr_grid.h).
#include "app/sr_grid.h"

#include <torch/torch.h>

#include <imgui.h>

#include <algorithm>
#include <cmath>

namespace hdv::app {

void SRGrid::draw(Studio& studio) {
  SRView& view = studio.sr_view;
  if (view.version != version_) {
    textures_.clear();
    const auto add = [&](const at::Tensor& image) {
      textures_.push_back(std::make_unique<GlTexture>());
      textures_.back()->upload(image);
    };
    if (!view.images.empty()) {
      add(view.low);
      add(view.bicubic);
      for (const at::Tensor& image : view.images) add(image);
    }
    version_ = view.version;
  }
  if (textures_.empty()) {
    ImGui::TextWrapped("No super-resolution yet: press Super-resolve in the sidebar.");
    return;
  }
  const int columns = 3;
  const float spacing = ImGui::GetStyle().ItemSpacing.x;
  const float cell = std::max(32.0f, (ImGui::GetContentRegionAvail().x - spacing * (columns + 1)) / columns);
  const float rows = std::ceil((view.images.size() + 2) / float(columns));
  const float text = ImGui::GetTextLineHeightWithSpacing();
  // Shrink the cells so every row fits the area's height.
  const float size = std::min(cell, (ImGui::GetContentRegionAvail().y - rows * (text + spacing * 2)) / rows);
  ImGui::BeginChild("sr grid", ImVec2(0, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
  for (size_t k = 0; k < textures_.size(); ++k) {
    if (k % columns != 0) ImGui::SameLine();
    ImGui::BeginGroup();
    ImGui::PushID(static_cast<int>(k));
    if (k < 2) {
      ImGui::Image(textures_[k]->id(), ImVec2(size, size));
      ImGui::TextUnformatted(k == 0 ? "input (low resolution)" : "bicubic");
    } else {
      const int candidate = static_cast<int>(k) - 2;
      const bool selected = view.selected == candidate;
      ImGui::PushStyleColor(ImGuiCol_Button, selected ? ImVec4(0.3f, 0.8f, 0.3f, 1.0f) : ImVec4(0.2f, 0.2f, 0.25f, 1.0f));
      if (ImGui::ImageButton(textures_[k]->id(), ImVec2(size - 8, size - 8), ImVec2(0, 0), ImVec2(1, 1), 4)) {
        view.selected = candidate;
      }
      ImGui::PopStyleColor();
      ImGui::Text("%s#%d %s", selected ? "> " : "", candidate + 1, view.captions[candidate].c_str());
    }
    ImGui::PopID();
    ImGui::EndGroup();
  }
  ImGui::EndChild();
}

}  // namespace hdv::app
