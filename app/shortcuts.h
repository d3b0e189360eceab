// The studio's keyboard shortcuts: Ctrl+O open, Ctrl+S save PNG, Ctrl+Z undo, Ctrl+Y / Ctrl+Shift+Z
// redo, Ctrl+Enter apply the edit, Ctrl+R sample, Escape cancel the running job.
// Ignored while a text field has the keyboard (its own undo keeps working).
#pragma once

#include "app/panels.h"
#include "app/studio.h"

namespace hdv::app {

void handle_shortcuts(Studio& studio, Panels& panels);

}  // namespace hdv::app
