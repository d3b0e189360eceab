// History: linear undo / redo over committed images (see history.h).
#include "app/history.h"

#include <cassert>

namespace hdv::app {

History::History(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}

void History::commit(HistoryEntry entry) {
  if (!entries_.empty()) entries_.resize(current_ + 1);
  entries_.push_back(std::move(entry));
  if (entries_.size() > capacity_) entries_.erase(entries_.begin(), entries_.begin() + (entries_.size() - capacity_));
  current_ = entries_.size() - 1;
}

bool History::undo() {
  if (!can_undo()) return false;
  --current_;
  return true;
}

bool History::redo() {
  if (!can_redo()) return false;
  ++current_;
  return true;
}

void History::clear() {
  entries_.clear();
  current_ = 0;
}

const HistoryEntry& History::current() const {
  assert(!entries_.empty());
  return entries_[current_];
}

}  // namespace hdv::app
