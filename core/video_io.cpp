// Video I/O through OpenCV's FFmpeg backend (see video_io.h).
#include "core/video_io.h"

#include <torch/torch.h>

#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/image_io.h"
#include "core/log.h"

namespace hdv::core {
namespace {

// Frames further ahead than this are reached by seeking instead of decoding forward.
constexpr int64_t kMaxForwardDecode = 24;

// FFmpeg and OpenCV print their own diagnostics to stderr; we report errors ourselves, once.
void quiet_video_backend() {
  static const bool done = [] {
    if (std::getenv("OPENCV_FFMPEG_LOGLEVEL") == nullptr) ::setenv("OPENCV_FFMPEG_LOGLEVEL", "-8", 0);
    if (log_level() > LogLevel::Debug) cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    return true;
  }();
  (void)done;
}

int cv_interpolation(Interpolation interpolation) {
  switch (interpolation) {
    case Interpolation::Area: return cv::INTER_AREA;
    case Interpolation::Bilinear: return cv::INTER_LINEAR;
    case Interpolation::Bicubic: return cv::INTER_CUBIC;
  }
  return cv::INTER_AREA;
}

}  // namespace

struct VideoReader::State {
  cv::VideoCapture capture;
  int64_t next = 0;  // index of the frame the next grab() returns
};

VideoReader::VideoReader(const std::filesystem::path& path) : path_(path), state_(std::make_unique<State>()) {
  quiet_video_backend();
  const std::string source = path.string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw IoError(fmt::format("{}: no such file", source));
  if (!std::filesystem::is_regular_file(path, ec)) throw IoError(fmt::format("{}: not a regular file", source));
  if (::access(path.c_str(), R_OK) != 0) throw IoError(fmt::format("{}: cannot read (permission denied)", source));
  if (std::filesystem::file_size(path, ec) == 0) throw FormatError(fmt::format("{}: cannot decode video (the file is empty)", source));
  if (!state_->capture.open(source, cv::CAP_FFMPEG)) {
    throw FormatError(fmt::format(
        "{}: cannot decode video (not a video, truncated, or a codec this FFmpeg build lacks)", source));
  }
  info_.fps = state_->capture.get(cv::CAP_PROP_FPS);
  info_.frame_count = static_cast<int64_t>(state_->capture.get(cv::CAP_PROP_FRAME_COUNT));
  info_.width = static_cast<int>(state_->capture.get(cv::CAP_PROP_FRAME_WIDTH));
  info_.height = static_cast<int>(state_->capture.get(cv::CAP_PROP_FRAME_HEIGHT));
  if (!(info_.fps > 0) || !std::isfinite(info_.fps)) {
    throw FormatError(fmt::format("{}: the video declares no frame rate", source));
  }
  if (info_.frame_count <= 0 || info_.width <= 0 || info_.height <= 0) {
    throw FormatError(fmt::format("{}: the video declares no frames", source));
  }
  info_.duration = double(info_.frame_count) / info_.fps;
  // Decode the first frame now: a file whose stream is unreadable fails here, not mid-run.
  if (!state_->capture.grab()) {
    throw FormatError(fmt::format("{}: frame 0 could not be decoded (corrupt or truncated file)", source));
  }
  state_->next = 1;
}

VideoReader::~VideoReader() = default;
VideoReader::VideoReader(VideoReader&&) noexcept = default;
VideoReader& VideoReader::operator=(VideoReader&&) noexcept = default;

int64_t VideoReader::frame_at(double seconds) const {
  auto index = static_cast<int64_t>(std::floor(seconds * info_.fps + 1e-6));
  return std::clamp<int64_t>(index, 0, info_.frame_count - 1);
}

std::pair<int64_t, int64_t> VideoReader::frame_range(const TimeSpan& span) const {
  auto first = static_cast<int64_t>(std::ceil(span.start * info_.fps - 1e-6));
  auto last = std::min<int64_t>(info_.frame_count, static_cast<int64_t>(std::ceil(span.end * info_.fps - 1e-6)));
  if (first >= info_.frame_count) {
    throw FormatError(fmt::format("{}: span {}-{} starts after the end of the video ({})", path_.string(),
                                  format_timecode(span.start), format_timecode(span.end),
                                  format_timecode(info_.duration)));
  }
  if (last <= first) {
    throw FormatError(fmt::format("{}: span {}-{} holds no frame", path_.string(), format_timecode(span.start),
                                  format_timecode(span.end)));
  }
  return {first, last};
}

at::Tensor VideoReader::read_frames(const std::vector<int64_t>& indices, const FrameSize* size,
                                    Interpolation interpolation) {
  const std::string source = path_.string();
  if (size != nullptr && (size->width <= 0 || size->height <= 0)) {
    throw Error(fmt::format("{}: frame size must be positive, got {}x{}", source, size->width, size->height));
  }
  std::vector<int64_t> order(indices);
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());
  std::map<int64_t, at::Tensor> decoded;
  cv::Mat bgr, rgb, resized;
  for (int64_t target : order) {
    if (target < 0 || target >= info_.frame_count) {
      throw Error(fmt::format("{}: frame {} is out of range (the video has {} frames)", source, target,
                              info_.frame_count));
    }
    // The frame grabbed last (next - 1) is still there to retrieve: no seek. This matters beyond
    // speed: FFmpeg cannot seek back to frame 0 of a one-frame file, which the constructor grabbed.
    const bool grabbed_last = target == state_->next - 1;
    if (!grabbed_last && (target < state_->next || target - state_->next > kMaxForwardDecode)) {
      state_->capture.set(cv::CAP_PROP_POS_FRAMES, static_cast<double>(target));
      state_->next = target;
    }
    while (state_->next <= target) {
      if (!state_->capture.grab()) {
        throw FormatError(fmt::format(
            "{}: frame {} could not be decoded (the file declares {} frames; truncated or corrupt?)", source,
            state_->next, info_.frame_count));
      }
      ++state_->next;
    }
    if (!state_->capture.retrieve(bgr) || bgr.empty()) {
      throw FormatError(fmt::format("{}: frame {} could not be decoded", source, target));
    }
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    if (size != nullptr && (rgb.cols != size->width || rgb.rows != size->height)) {
      cv::resize(rgb, resized, cv::Size(size->width, size->height), 0, 0, cv_interpolation(interpolation));
    } else {
      resized = rgb;
    }
    if (!resized.isContinuous()) resized = resized.clone();
    at::Tensor hwc = torch::from_blob(resized.data, {resized.rows, resized.cols, 3}, torch::kUInt8);
    decoded[target] = from_uint8_hwc(hwc);  // copies out of the cv::Mat
  }
  std::vector<at::Tensor> frames;
  frames.reserve(indices.size());
  for (int64_t index : indices) frames.push_back(decoded.at(index));
  if (frames.empty()) {
    int h = size ? size->height : info_.height, w = size ? size->width : info_.width;
    return torch::empty({0, 3, h, w});
  }
  return torch::stack(frames);
}

int64_t VideoReader::count_decodable_frames() {
  state_->capture.set(cv::CAP_PROP_POS_FRAMES, 0.0);
  int64_t count = 0;
  while (state_->capture.grab()) ++count;
  state_->capture.set(cv::CAP_PROP_POS_FRAMES, 0.0);
  state_->next = 0;
  return count;
}

struct VideoWriter::State {
  cv::VideoWriter writer;
};

VideoWriter::VideoWriter(const std::filesystem::path& path, double fps, int width, int height)
    : path_(path), width_(width), height_(height), state_(std::make_unique<State>()) {
  quiet_video_backend();
  const std::string source = path.string();
  if (!(fps > 0) || width <= 0 || height <= 0) {
    throw Error(fmt::format("{}: invalid video geometry {}x{} at {} fps", source, width, height, fps));
  }
  std::string extension = path.extension().string();
  int fourcc = 0;
  if (extension == ".mp4" || extension == ".m4v" || extension == ".mov") {
    fourcc = cv::VideoWriter::fourcc('m', 'p', '4', 'v');
  } else if (extension == ".avi") {
    fourcc = cv::VideoWriter::fourcc('M', 'J', 'P', 'G');
  } else {
    throw Error(fmt::format("{}: unsupported video extension \"{}\" (use .mp4 or .avi)", source, extension));
  }
  // Both encoders subsample colour 2:1 and silently drop an odd row or column (33x17 comes out 32x16).
  if (width % 2 != 0 || height % 2 != 0) {
    throw Error(fmt::format("{}: video width and height must be even, got {}x{} (the encoder would drop the odd "
                            "row or column)", source, width, height));
  }
  std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  // The temporary name keeps the extension: FFmpeg picks the container from it.
  temp_path_ = dir / fmt::format(".{}.tmp-{}{}", path.stem().string(), ::getpid(), extension);
  if (!state_->writer.open(temp_path_.string(), cv::CAP_FFMPEG, fourcc, fps, cv::Size(width, height))) {
    throw IoError(fmt::format("{}: cannot open a video writer (folder missing or codec unavailable)", source));
  }
}

VideoWriter::~VideoWriter() {
  if (state_ && state_->writer.isOpened()) {
    state_->writer.release();
    std::error_code ignored;  // abandoned write: remove the partial temporary file
    std::filesystem::remove(temp_path_, ignored);
  }
}

void VideoWriter::write(const at::Tensor& frame) {
  if (!state_->writer.isOpened()) throw Error(fmt::format("{}: write after close", path_.string()));
  if (frame.dim() != 3 || frame.size(0) != 3 || frame.size(1) != height_ || frame.size(2) != width_) {
    throw Error(fmt::format("{}: frame shape [{}] does not match [3, {}, {}]", path_.string(),
                            fmt::join(frame.sizes(), ", "), height_, width_));
  }
  at::Tensor hwc = to_uint8_hwc(frame);
  cv::Mat rgb(height_, width_, CV_8UC3, hwc.data_ptr()), bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  state_->writer.write(bgr);
  ++frames_written_;
}

void VideoWriter::close() {
  if (!state_->writer.isOpened()) return;
  state_->writer.release();
  std::error_code ec;
  std::filesystem::rename(temp_path_, path_, ec);
  if (ec) throw IoError(fmt::format("{}: cannot rename the finished video: {}", path_.string(), ec.message()));
}

}  // namespace hdv::core
