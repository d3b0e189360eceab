// Frame timing of the studio's UI loop (--frame-log FILE): one record per rendered frame with
// whether model work was running, so the "UI keeps >= 30 FPS while an optimisation runs" claim of
// docs/studio.md is measured (bench/studio_fps.sh), not assumed.
//
// CSV columns: frame, seconds (since the loop started), frame_ms (since the previous frame),
// busy (1 while the worker had queued or running work).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace hdv::app {

struct FrameRecord {
  int64_t frame = 0;
  double seconds = 0;   // since the first frame
  double frame_ms = 0;  // since the previous frame (0 for the first)
  bool busy = false;
};

// Frame-rate figures over one group of frames (busy or idle).
struct FrameRateSummary {
  int64_t frames = 0;
  double median_fps = 0;      // 1000 / median frame time
  double p5_fps = 0;          // 1000 / 95th-percentile frame time: the slow frames
  double worst_ms = 0;        // the longest frame
};

class FrameLog {
 public:
  // Records a frame that ended at `seconds` (monotonic, since any fixed origin).
  void record(double seconds, bool busy);

  const std::vector<FrameRecord>& records() const { return records_; }
  // Frames whose busy flag equals `busy`; the first frame (no interval) is left out.
  FrameRateSummary summary(bool busy) const;
  // CSV text (header + one line per frame).
  std::string csv() const;
  // Writes csv() atomically; throws core::IoError naming the path.
  void write(const std::filesystem::path& path) const;

 private:
  std::vector<FrameRecord> records_;
  double origin_ = 0;
};

}  // namespace hdv::app
