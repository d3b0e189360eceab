// The studio's edit history: every committed image (sample, inversion, edit, super-resolution)
// with the latent that reproduces it, and undo / redo over them (Ctrl+Z / Ctrl+Y).
//
// Linear history as in an image editor: committing after an undo drops the undone entries.
// The oldest entries are dropped beyond `capacity`.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <string>
#include <vector>

#include "generation/pipeline.h"

namespace hdv::app {

struct HistoryEntry {
  std::string label;         // what made it: "sample seed 3 psi 0.70", "edit \"a red shirt\" ... alpha 4.10 beta 0.150"
  at::Tensor image;          // [3, H, W] in [-1, 1], CPU
  gen::Latent latent;        // empty ws when the image has no latent (an opened file)
  bool has_latent() const { return latent.ws.defined(); }
};

class History {
 public:
  explicit History(size_t capacity = 64);

  // Adds `entry` after the current one; entries after the current one (undone) are dropped.
  void commit(HistoryEntry entry);
  // Steps back / forward; returns false (and changes nothing) at either end.
  bool undo();
  bool redo();
  void clear();

  bool empty() const { return entries_.empty(); }
  bool can_undo() const { return !entries_.empty() && current_ > 0; }
  bool can_redo() const { return !entries_.empty() && current_ + 1 < entries_.size(); }
  // The entry shown; requires !empty().
  const HistoryEntry& current() const;
  size_t current_index() const { return current_; }
  const std::vector<HistoryEntry>& entries() const { return entries_; }

 private:
  size_t capacity_;
  std::vector<HistoryEntry> entries_;
  size_t current_ = 0;
};

}  // namespace hdv::app
