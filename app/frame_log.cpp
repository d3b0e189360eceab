// Frame timing of the studio's UI loop; see frame_log.h.
#include "app/frame_log.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/atomic_file.h"

namespace hdv::app {

void FrameLog::record(double seconds, bool busy) {
  FrameRecord r;
  r.frame = int64_t(records_.size());
  if (records_.empty()) {
    origin_ = seconds;
  } else {
    r.frame_ms = (seconds - origin_ - records_.back().seconds) * 1000.0;
  }
  r.seconds = seconds - origin_;
  r.busy = busy;
  records_.push_back(r);
}

namespace {

// Nearest-rank percentile of sorted values, q in [0, 1].
double percentile(const std::vector<double>& sorted, double q) {
  const size_t rank = size_t(std::ceil(q * double(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

FrameRateSummary FrameLog::summary(bool busy) const {
  std::vector<double> ms;
  for (size_t i = 1; i < records_.size(); ++i) {
    if (records_[i].busy == busy) ms.push_back(records_[i].frame_ms);
  }
  FrameRateSummary s;
  s.frames = int64_t(ms.size());
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  // An even count takes the mean of the two middle frames, as a median does.
  const size_t n = ms.size();
  const double median_ms = n % 2 == 1 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
  s.median_fps = median_ms > 0 ? 1000.0 / median_ms : 0;
  const double slow_ms = percentile(ms, 0.95);
  s.p5_fps = slow_ms > 0 ? 1000.0 / slow_ms : 0;
  s.worst_ms = ms.back();
  return s;
}

std::string FrameLog::csv() const {
  std::string text = "frame,seconds,frame_ms,busy\n";
  for (const FrameRecord& r : records_) {
    text += fmt::format("{},{:.6f},{:.3f},{}\n", r.frame, r.seconds, r.frame_ms, r.busy ? 1 : 0);
  }
  return text;
}

void FrameLog::write(const std::filesystem::path& path) const { core::write_file_atomic(path, csv()); }

}  // namespace hdv::app
