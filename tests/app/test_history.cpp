// History (app/history.h): linear undo / redo, commits after an undo drop the undone entries,
// the capacity drops the oldest.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include "app/history.h"

namespace hdv::app {
namespace {

HistoryEntry entry(const std::string& label, float value) {
  return HistoryEntry{label, torch::full({3, 4, 4}, value), {}};
}

std::vector<std::string> labels(const History& history) {
  std::vector<std::string> out;
  for (const HistoryEntry& e : history.entries()) out.push_back(e.label);
  return out;
}

TEST(History, UndoAndRedoWalkTheEntries) {
  History history;
  EXPECT_FALSE(history.undo());
  EXPECT_FALSE(history.redo());
  history.commit(entry("sample", 0.0f));
  history.commit(entry("edit 1", 0.5f));
  history.commit(entry("edit 2", 1.0f));
  EXPECT_EQ(history.current().label, "edit 2");
  EXPECT_FALSE(history.can_redo());
  ASSERT_TRUE(history.undo());
  ASSERT_TRUE(history.undo());
  EXPECT_EQ(history.current().label, "sample");
  EXPECT_FLOAT_EQ(history.current().image[0][0][0].item<float>(), 0.0f);
  EXPECT_FALSE(history.undo());  // at the start: nothing changes
  EXPECT_EQ(history.current_index(), 0u);
  ASSERT_TRUE(history.redo());
  EXPECT_EQ(history.current().label, "edit 1");
  ASSERT_TRUE(history.redo());
  EXPECT_FALSE(history.redo());
  EXPECT_EQ(history.current().label, "edit 2");
}

TEST(History, CommitAfterUndoDropsTheUndoneEntries) {
  History history;
  history.commit(entry("sample", 0.0f));
  history.commit(entry("edit 1", 0.5f));
  history.commit(entry("edit 2", 1.0f));
  history.undo();
  history.undo();
  history.commit(entry("other edit", -1.0f));
  EXPECT_EQ(labels(history), (std::vector<std::string>{"sample", "other edit"}));
  EXPECT_EQ(history.current().label, "other edit");
  EXPECT_FALSE(history.can_redo());
  EXPECT_TRUE(history.can_undo());
}

TEST(History, CapacityDropsTheOldest) {
  History history(3);
  for (int i = 0; i < 5; ++i) history.commit(entry("e" + std::to_string(i), static_cast<float>(i)));
  EXPECT_EQ(labels(history), (std::vector<std::string>{"e2", "e3", "e4"}));
  EXPECT_EQ(history.current().label, "e4");
  history.undo();
  history.undo();
  EXPECT_FALSE(history.undo());
  EXPECT_EQ(history.current().label, "e2");
}

TEST(History, EntriesWithoutLatentAreMarked) {
  History history;
  history.commit(entry("open photo.png", 0.0f));
  EXPECT_FALSE(history.current().has_latent());
  HistoryEntry sampled = entry("sample", 0.0f);
  sampled.latent.ws = torch::zeros({1, 6, 32});
  history.commit(sampled);
  EXPECT_TRUE(history.current().has_latent());
  history.clear();
  EXPECT_TRUE(history.empty());
  EXPECT_FALSE(history.can_undo());
}

}  // namespace
}  // namespace hdv::app
