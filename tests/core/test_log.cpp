// Logging: level filtering and the replaceable sink (the studio's log panel uses it).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/log.h"

namespace hdv::core {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_log_sink([this](LogLevel level, std::string_view message) {
      lines_.push_back(std::string(log_level_name(level)) + ":" + std::string(message));
    });
  }
  void TearDown() override {
    set_log_sink({});
    set_log_level(LogLevel::Info);
  }
  std::vector<std::string> lines_;
};

TEST_F(LogTest, SinkReceivesFormattedLinesAtOrAboveTheLevel) {
  set_log_level(LogLevel::Info);
  log_debug("hidden {}", 1);
  log_info("step {} loss {:.3f}", 12, 0.5);
  log_warning("skipped {} clips", 3);
  log_error("bad {}", "file");
  EXPECT_EQ(lines_, (std::vector<std::string>{"info:step 12 loss 0.500", "warning:skipped 3 clips", "error:bad file"}));
}

TEST_F(LogTest, VerboseShowsDebugAndQuietKeepsOnlyWarnings) {
  set_log_level(LogLevel::Debug);
  log_debug("detail");
  set_log_level(LogLevel::Warning);
  log_info("chatter");
  log_warning("careful");
  EXPECT_EQ(lines_, (std::vector<std::string>{"debug:detail", "warning:careful"}));
}

}  // namespace
}  // namespace hdv::core
