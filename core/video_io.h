// Video files <-> float tensors, through OpenCV's FFmpeg backend (Debian's libopencv-dev).
//
// This is the one part of core/ that needs OpenCV, so it is its own library (hdv_video, CMake
// option HDV_VIDEO): machines without OpenCV still build everything else.
//
// VideoReader opens a file, reports fps, frame count and duration, maps time spans
// (HH:MM:SS.mmm, as in HD-VILA-100M metadata) to frame indices and decodes frames at given
// indices (sequential decoding for nearby frames, seeking for distant ones), optionally resized.
// Missing, truncated or undecodable files raise errors naming the file and the frame.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/timecode.h"

namespace hdv::core {

struct VideoInfo {
  double fps = 0;           // frames per second from the container
  int64_t frame_count = 0;  // frames the container declares
  double duration = 0;      // seconds = frame_count / fps
  int width = 0;            // pixels
  int height = 0;           // pixels
};

enum class Interpolation { Area, Bilinear, Bicubic };

struct FrameSize {
  int width = 0;
  int height = 0;
};

class VideoReader {
 public:
  // Throws IoError if the file is missing, FormatError if it cannot be decoded.
  explicit VideoReader(const std::filesystem::path& path);
  ~VideoReader();
  VideoReader(VideoReader&&) noexcept;
  VideoReader& operator=(VideoReader&&) noexcept;

  const VideoInfo& info() const { return info_; }
  const std::filesystem::path& path() const { return path_; }

  // Index of the frame shown at `seconds` (clamped to the last frame).
  int64_t frame_at(double seconds) const;
  // First and one-past-last frame index inside the span; throws FormatError when the span lies
  // outside the video or holds no frame.
  std::pair<int64_t, int64_t> frame_range(const TimeSpan& span) const;

  // Decodes the frames at `indices` (any order, repeats allowed) -> float [N, 3, H, W] in [-1, 1],
  // RGB. With `size`, each frame is resized to size.width x size.height.
  at::Tensor read_frames(const std::vector<int64_t>& indices, const FrameSize* size = nullptr,
                         Interpolation interpolation = Interpolation::Area);

  // Decodes the whole file and returns how many frames actually decode (slow; for checks).
  int64_t count_decodable_frames();

 private:
  struct State;
  std::filesystem::path path_;
  VideoInfo info_;
  std::unique_ptr<State> state_;
};

// Writes frames to a video file (codec from the extension: .mp4 -> MPEG-4 Part 2, .avi -> MJPG).
// Frames go to a temporary file renamed on close(), so an interrupted write leaves no file that
// looks complete.
class VideoWriter {
 public:
  VideoWriter(const std::filesystem::path& path, double fps, int width, int height);
  ~VideoWriter();
  // frame: [3, H, W] float in [-1, 1], RGB, H and W as given to the constructor.
  void write(const at::Tensor& frame);
  void close();
  int64_t frames_written() const { return frames_written_; }

 private:
  struct State;
  std::filesystem::path path_;
  std::filesystem::path temp_path_;
  int width_;
  int height_;
  int64_t frames_written_ = 0;
  std::unique_ptr<State> state_;
};

}  // namespace hdv::core
