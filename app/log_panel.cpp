// LogPanel: the log lines in the sidebar (see log_panel.h).
#include "app/log_panel.h"

#include <imgui.h>

namespace hdv::app {

void LogPanel::add(core::LogLevel level, std::string_view message) {
  std::lock_guard lock(mutex_);
  lines_.emplace_back(level, std::string(message));
  if (lines_.size() > kMaxLines) lines_.pop_front();
  scroll_to_end_ = true;
}

void LogPanel::draw(float height) {
  std::lock_guard lock(mutex_);
  if (ImGui::SmallButton("Clear")) lines_.clear();
  ImGui::BeginChild("log", ImVec2(0, height), true, ImGuiWindowFlags_HorizontalScrollbar);
  for (const auto& [level, text] : lines_) {
    const ImVec4 colour = level >= core::LogLevel::Error     ? ImVec4(1.0f, 0.4f, 0.4f, 1.0f)
                          : level == core::LogLevel::Warning ? ImVec4(1.0f, 0.8f, 0.3f, 1.0f)
                          : level == core::LogLevel::Debug   ? ImVec4(0.6f, 0.6f, 0.6f, 1.0f)
                                                             : ImVec4(0.85f, 0.85f, 0.85f, 1.0f);
    ImGui::PushStyleColor(ImGuiCol_Text, colour);
    ImGui::TextWrapped("%s", text.c_str());
    ImGui::PopStyleColor();
  }
  if (scroll_to_end_) {
    ImGui::SetScrollHereY(1.0f);
    scroll_to_end_ = false;
  }
  ImGui::EndChild();
}

}  // namespace hdv::app
