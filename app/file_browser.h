// The studio's in-app file browser (no dialog library): a modal window listing one folder, for
// opening images and checkpoints and for choosing where to save a PNG.
//
// open(...) shows it; draw() each frame; when the user confirms, the callback gets the chosen path
// (and the folder is remembered as the next starting point, persisted in the settings).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace hdv::app {

class FileBrowser {
 public:
  enum class Mode { Open, Save };
  using Callback = std::function<void(const std::filesystem::path& path)>;

  // extensions: lower-case with the dot (".png"); empty = every file.
  void open(Mode mode, std::string title, std::vector<std::string> extensions, Callback on_choose,
            const std::string& file_name = "");
  void draw();
  bool visible() const { return visible_; }

  std::filesystem::path folder;  // the folder shown (and the last one used)

 private:
  void list();

  Mode mode_ = Mode::Open;
  std::string title_;
  std::vector<std::string> extensions_;
  Callback on_choose_;
  std::string file_name_;
  std::string folder_text_;
  std::vector<std::filesystem::directory_entry> entries_;
  std::string list_error_;
  bool visible_ = false;
  bool just_opened_ = false;
};

}  // namespace hdv::app
