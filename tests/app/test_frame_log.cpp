// FrameLog (app/frame_log.h): frame intervals, busy/idle summaries, CSV text and atomic write.
#include <gtest/gtest.h>

#include <filesystem>

#include "app/frame_log.h"
#include "core/atomic_file.h"

namespace hdv::app {
namespace {

TEST(FrameLog, IntervalsAreMeasuredFromThePreviousFrame) {
  FrameLog log;
  log.record(10.0, false);
  log.record(10.020, true);
  log.record(10.050, true);
  ASSERT_EQ(log.records().size(), 3u);
  EXPECT_DOUBLE_EQ(log.records()[0].seconds, 0.0);
  EXPECT_DOUBLE_EQ(log.records()[0].frame_ms, 0.0);
  EXPECT_NEAR(log.records()[1].frame_ms, 20.0, 1e-9);
  EXPECT_NEAR(log.records()[2].frame_ms, 30.0, 1e-9);
  EXPECT_NEAR(log.records()[2].seconds, 0.050, 1e-12);
  EXPECT_EQ(log.records()[2].frame, 2);
}

TEST(FrameLog, SummarySeparatesBusyFromIdleFrames) {
  FrameLog log;
  double t = 0;
  log.record(t, false);
  // 20 busy frames of 10 ms and one of 100 ms; 5 idle frames of 5 ms.
  for (int i = 0; i < 20; ++i) log.record(t += 0.010, true);
  log.record(t += 0.100, true);
  for (int i = 0; i < 5; ++i) log.record(t += 0.005, false);

  const FrameRateSummary busy = log.summary(true);
  EXPECT_EQ(busy.frames, 21);
  EXPECT_NEAR(busy.median_fps, 100.0, 1e-6);
  EXPECT_NEAR(busy.p5_fps, 100.0, 1e-6);  // the 95th-percentile frame of 21 is still a 10 ms one
  EXPECT_NEAR(busy.worst_ms, 100.0, 1e-6);

  const FrameRateSummary idle = log.summary(false);
  EXPECT_EQ(idle.frames, 5);  // the first frame has no interval
  EXPECT_NEAR(idle.median_fps, 200.0, 1e-6);
}

TEST(FrameLog, SlowFramesShowInTheFifthPercentile) {
  FrameLog log;
  double t = 0;
  log.record(t, true);
  for (int i = 0; i < 18; ++i) log.record(t += 0.010, true);
  for (int i = 0; i < 2; ++i) log.record(t += 0.050, true);  // 2 of 20 frames are slow
  const FrameRateSummary busy = log.summary(true);
  EXPECT_EQ(busy.frames, 20);
  EXPECT_NEAR(busy.median_fps, 100.0, 1e-6);
  EXPECT_NEAR(busy.p5_fps, 20.0, 1e-6);
}

TEST(FrameLog, EmptyGroupHasNoFrames) {
  FrameLog log;
  log.record(1.0, false);
  log.record(1.5, false);
  const FrameRateSummary busy = log.summary(true);
  EXPECT_EQ(busy.frames, 0);
  EXPECT_EQ(busy.median_fps, 0.0);
}

TEST(FrameLog, WritesCsv) {
  FrameLog log;
  log.record(2.0, false);
  log.record(2.25, true);
  EXPECT_EQ(log.csv(), "frame,seconds,frame_ms,busy\n0,0.000000,0.000,0\n1,0.250000,250.000,1\n");
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "hdv_frame_log_test.csv";
  log.write(path);
  EXPECT_EQ(core::read_file(path), log.csv());
  std::filesystem::remove(path);
}

TEST(FrameLog, UnwritablePathNamesIt) {
  FrameLog log;
  log.record(0.0, false);
  try {
    log.write("/nonexistent-dir-hdv/frames.csv");
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir-hdv/frames.csv"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hdv::app
