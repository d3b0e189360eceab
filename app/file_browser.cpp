// FileBrowser: a folder listing in an ImGui modal (see file_browser.h).
#include "app/file_browser.h"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cctype>
#include <optional>

namespace hdv::app {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

void FileBrowser::open(Mode mode, std::string title, std::vector<std::string> extensions, Callback on_choose,
                       const std::string& file_name) {
  mode_ = mode;
  title_ = std::move(title);
  extensions_ = std::move(extensions);
  on_choose_ = std::move(on_choose);
  file_name_ = file_name;
  std::error_code ec;
  if (folder.empty() || !fs::is_directory(folder, ec)) folder = fs::current_path(ec);
  list();
  visible_ = true;
  just_opened_ = true;
}

void FileBrowser::list() {
  entries_.clear();
  list_error_.clear();
  folder_text_ = folder.string();
  std::error_code ec;
  for (fs::directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
       it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    std::error_code type_ec;
    const bool is_dir = entry.is_directory(type_ec);
    if (!is_dir && !extensions_.empty()) {
      const std::string ext = lower(entry.path().extension().string());
      if (std::find(extensions_.begin(), extensions_.end(), ext) == extensions_.end()) continue;
    }
    if (entry.path().filename().string().starts_with(".")) continue;
    entries_.push_back(entry);
  }
  if (ec) list_error_ = folder.string() + ": " + ec.message();
  std::sort(entries_.begin(), entries_.end(), [](const fs::directory_entry& a, const fs::directory_entry& b) {
    std::error_code e1, e2;
    const bool da = a.is_directory(e1), db = b.is_directory(e2);
    if (da != db) return da;
    return a.path().filename() < b.path().filename();
  });
}

void FileBrowser::draw() {
  if (!visible_) return;
  if (just_opened_) {
    ImGui::OpenPopup(title_.c_str());
    just_opened_ = false;
  }
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  ImGui::SetNextWindowSize(ImVec2(display.x * 0.6f, display.y * 0.7f), ImGuiCond_Appearing);
  ImGui::SetNextWindowPos(ImVec2(display.x * 0.5f, display.y * 0.5f), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  if (!ImGui::BeginPopupModal(title_.c_str(), &visible_)) return;
  std::optional<fs::path> chosen;
  if (ImGui::Button("Up")) {
    folder = folder.parent_path();
    list();
  }
  ImGui::SameLine();
  ImGui::SetNextItemWidth(-1);
  if (ImGui::InputText("##folder", &folder_text_, ImGuiInputTextFlags_EnterReturnsTrue)) {
    std::error_code ec;
    if (fs::is_directory(folder_text_, ec)) {
      folder = folder_text_;
      list();
    } else {
      list_error_ = folder_text_ + ": not a folder";
    }
  }
  if (!list_error_.empty()) ImGui::TextColored(ImVec4(1, 0.4f, 0.4f, 1), "%s", list_error_.c_str());
  const float footer = ImGui::GetFrameHeightWithSpacing() * 2;
  ImGui::BeginChild("entries", ImVec2(0, -footer), true);
  for (const fs::directory_entry& entry : entries_) {
    std::error_code ec;
    const bool is_dir = entry.is_directory(ec);
    const std::string name = entry.path().filename().string() + (is_dir ? "/" : "");
    const bool selected = !is_dir && file_name_ == entry.path().filename().string();
    if (ImGui::Selectable(name.c_str(), selected, ImGuiSelectableFlags_AllowDoubleClick)) {
      if (is_dir) {
        if (ImGui::IsMouseDoubleClicked(0)) {
          folder = entry.path();
          list();
          break;
        }
      } else {
        file_name_ = entry.path().filename().string();
        if (ImGui::IsMouseDoubleClicked(0)) chosen = entry.path();
      }
    }
  }
  ImGui::EndChild();
  ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x * 0.6f);
  const bool entered = ImGui::InputText("file name", &file_name_, ImGuiInputTextFlags_EnterReturnsTrue);
  ImGui::SameLine();
  const bool confirm = ImGui::Button(mode_ == Mode::Open ? "Open" : "Save");
  if ((entered || confirm) && !file_name_.empty()) {
    fs::path p = fs::path(file_name_).is_absolute() ? fs::path(file_name_) : folder / file_name_;
    if (mode_ == Mode::Save && p.extension().empty()) p += ".png";
    chosen = p;
  }
  ImGui::SameLine();
  if (ImGui::Button("Cancel") || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) visible_ = false;
  if (chosen) {
    folder = chosen->parent_path();
    visible_ = false;
    if (on_choose_) on_choose_(*chosen);
  }
  if (!visible_) ImGui::CloseCurrentPopup();
  ImGui::EndPopup();
}

}  // namespace hdv::app
