// The studio's sidebar: collapsible panels Models, Generate, Edit, Super-resolve, History, Status
// and Log, drawn from and editing the Studio's state (studio.h). Buttons call Studio actions; the
// file pickers go through the in-app FileBrowser.
#pragma once

#include <memory>
#include <vector>

#include "app/file_browser.h"
#include "app/log_panel.h"
#include "app/studio.h"

namespace hdv::app {

class Panels {
 public:
  Panels(Studio& studio, FileBrowser& browser, LogPanel& log) : studio_(studio), browser_(browser), log_(log) {}

  // Draws every panel into the current ImGui window (the sidebar).
  void draw();

  // Shared with the keyboard shortcuts.
  void choose_image_to_open();
  void choose_save_path();

 private:
  void models_panel();
  void generate_panel();
  void label_combos();
  void edit_panel();
  void sr_panel();
  void history_panel();
  void status_panel();
  void progress_line(const char* kind);

  Studio& studio_;
  FileBrowser& browser_;
  LogPanel& log_;
  uint64_t sr_version_ = 0;
  bool cuda_ = false;
  bool cuda_checked_ = false;
};

// Resident memory of this process in MiB (from /proc/self/statm; 0 where unavailable).
double resident_mib();

}  // namespace hdv::app
