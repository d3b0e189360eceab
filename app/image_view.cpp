// ImageView: the image area with zoom and the before/after split (see image_view.h).
#include "app/image_view.h"

#include <torch/torch.h>

#include <imgui.h>

#include <algorithm>

namespace hdv::app {

void ImageView::release() {
  after_.release();
  before_.release();
}

void ImageView::draw(const Studio& studio) {
  if (studio.image_version() != version_) {
    version_ = studio.image_version();
    const at::Tensor& shown = studio.shown_image();
    if (shown.defined()) after_.upload(shown); else after_.release();
    // Nothing to compare while the reference itself is shown (just opened or sampled).
    const at::Tensor& reference = studio.reference_image();
    if (reference.defined() && !(shown.defined() && reference.is_same(shown))) before_.upload(reference); else before_.release();
  }
  ImGui::Checkbox("fit", &fit);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(120);
  if (ImGui::SliderFloat("zoom", &zoom, 0.25f, 32.0f, "%.2fx", ImGuiSliderFlags_Logarithmic)) fit = false;
  ImGui::SameLine();
  ImGui::Checkbox("compare", &compare);
  ImGui::SameLine();
  ImGui::Checkbox("side by side", &side_by_side);
  if (compare && !side_by_side) {
    ImGui::SameLine();
    ImGui::SetNextItemWidth(160);
    ImGui::SliderFloat("before | after", &split, 0.0f, 1.0f, "%.2f");
  }
  if (!studio.history().empty()) {
    ImGui::TextDisabled("%s%s", studio.has_preview() ? "live preview of: " : "", studio.history().current().label.c_str());
  }
  if (!after_.valid()) {
    ImGui::TextWrapped(
        "No image yet. Sample one (Generate panel), open a file (Ctrl+O) or drop an image on the window.");
    return;
  }
  const bool two = compare && before_.valid();
  const bool pair = two && side_by_side;
  ImGui::BeginChild("canvas", ImVec2(0, 0), false, ImGuiWindowFlags_HorizontalScrollbar);
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float w = static_cast<float>(after_.width()), h = static_cast<float>(after_.height());
  const float columns = pair ? 2.0f : 1.0f;
  if (fit) zoom = std::max(0.01f, std::min((avail.x - (pair ? 8.0f : 0.0f)) / (w * columns), avail.y / h));
  if (ImGui::IsWindowHovered() && ImGui::GetIO().MouseWheel != 0 && ImGui::GetIO().KeyCtrl) {
    fit = false;
    zoom = std::clamp(zoom * (ImGui::GetIO().MouseWheel > 0 ? 1.25f : 0.8f), 0.25f, 32.0f);
  }
  const ImVec2 size(w * zoom, h * zoom);
  if (pair) {
    ImGui::Image(before_.id(), size);
    ImGui::SameLine();
    ImGui::Image(after_.id(), size);
  } else if (two) {
    // Before on the left of the divider, after on the right, over the same rectangle.
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    ImGui::InvisibleButton("image", size);
    ImDrawList* draw = ImGui::GetWindowDrawList();
    const float x = p0.x + size.x * split;
    draw->AddImage(before_.id(), p0, ImVec2(x, p0.y + size.y), ImVec2(0, 0), ImVec2(split, 1));
    draw->AddImage(after_.id(), ImVec2(x, p0.y), ImVec2(p0.x + size.x, p0.y + size.y), ImVec2(split, 0), ImVec2(1, 1));
    draw->AddLine(ImVec2(x, p0.y), ImVec2(x, p0.y + size.y), IM_COL32(255, 255, 255, 200), 2.0f);
    if (ImGui::IsItemActive()) split = std::clamp((ImGui::GetIO().MousePos.x - p0.x) / size.x, 0.0f, 1.0f);
  } else {
    ImGui::Image(after_.id(), size);
  }
  ImGui::EndChild();
}

}  // namespace hdv::app
