// Video I/O: a video written by the test reads back with the exact frame count, seeks land on the
// right frames (each frame's grey level encodes its index), and bad files give clean errors.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/video_io.h"
#include "test_support.h"

namespace hdv::core {
namespace {

using test::TempDir;

constexpr int kFrames = 48;
constexpr double kFps = 24;
constexpr int kWidth = 64, kHeight = 48;

// Frame i carries its index in binary: 8 vertical bands, band b white when bit b of i is set,
// black otherwise, so the index survives lossy coding and any resize.
constexpr int kBits = 8;

at::Tensor frame_for(int64_t index) {
  at::Tensor frame = torch::full({3, kHeight, kWidth}, -1.0);
  const int band = kWidth / kBits;
  for (int bit = 0; bit < kBits; ++bit) {
    if ((index >> bit) & 1) frame.narrow(2, bit * band, band).fill_(1.0);
  }
  return frame;
}

void write_test_video(const std::filesystem::path& path) {
  VideoWriter writer(path, kFps, kWidth, kHeight);
  for (int i = 0; i < kFrames; ++i) writer.write(frame_for(i));
  writer.close();
  ASSERT_EQ(writer.frames_written(), kFrames);
}

// Reads the index back from the band means (works at any frame size).
int64_t decoded_index(const at::Tensor& frame) {
  const int64_t width = frame.size(2), band = width / kBits;
  int64_t index = 0;
  for (int bit = 0; bit < kBits; ++bit) {
    // The middle half of each band, away from edges blurred by coding or resizing.
    float mean = frame.narrow(2, bit * band + band / 4, std::max<int64_t>(1, band / 2)).mean().item<float>();
    if (mean > 0) index |= int64_t(1) << bit;
  }
  return index;
}

TEST(VideoIo, WrittenVideoReadsBackWithExactFrameCount) {
  TempDir dir;
  write_test_video(dir / "clip.mp4");
  VideoReader reader(dir / "clip.mp4");
  EXPECT_EQ(reader.info().frame_count, kFrames);
  EXPECT_DOUBLE_EQ(reader.info().fps, kFps);
  EXPECT_DOUBLE_EQ(reader.info().duration, 2.0);
  EXPECT_EQ(reader.info().width, kWidth);
  EXPECT_EQ(reader.info().height, kHeight);
  EXPECT_EQ(reader.count_decodable_frames(), kFrames);
}

TEST(VideoIo, DecodesRequestedIndicesInAnyOrder) {
  TempDir dir;
  write_test_video(dir / "clip.mp4");
  VideoReader reader(dir / "clip.mp4");
  std::vector<int64_t> indices = {47, 0, 17, 17, 33, 1, 46, 5};
  at::Tensor frames = reader.read_frames(indices);
  ASSERT_EQ(frames.sizes(), (std::vector<int64_t>{8, 3, kHeight, kWidth}));
  for (size_t i = 0; i < indices.size(); ++i) EXPECT_EQ(decoded_index(frames[i]), indices[i]) << "position " << i;
}

// A one-frame clip (a still turned into video) decodes, in either container, and its frame can be
// read again; FFmpeg cannot seek back to frame 0 of such a file, which the reader opened on.
TEST(VideoIo, OneFrameVideoDecodes) {
  TempDir dir;
  for (const char* name : {"still.mp4", "still.avi"}) {
    {
      VideoWriter writer(dir / name, kFps, kWidth, kHeight);
      writer.write(frame_for(5));
      writer.close();
    }
    VideoReader reader(dir / name);
    EXPECT_EQ(reader.info().frame_count, 1) << name;
    EXPECT_EQ(decoded_index(reader.read_frames({0})[0]), 5) << name;
    at::Tensor again = reader.read_frames({0, 0});
    ASSERT_EQ(again.size(0), 2) << name;
    EXPECT_EQ(decoded_index(again[1]), 5) << name;
  }
}

TEST(VideoIo, SeeksByTimeSpan) {
  TempDir dir;
  write_test_video(dir / "clip.mp4");
  VideoReader reader(dir / "clip.mp4");
  auto [first, last] = reader.frame_range(parse_time_span("00:00:00.500-00:00:01.250"));
  EXPECT_EQ(first, 12);
  EXPECT_EQ(last, 30);
  EXPECT_EQ(reader.frame_at(parse_timecode("00:00:01.000")), 24);
  EXPECT_EQ(reader.frame_at(parse_timecode("00:00:09.000")), kFrames - 1);
  at::Tensor frames = reader.read_frames({first, last - 1, reader.frame_at(1.0)});
  EXPECT_EQ(decoded_index(frames[0]), 12);
  EXPECT_EQ(decoded_index(frames[1]), 29);
  EXPECT_EQ(decoded_index(frames[2]), 24);
  HDV_EXPECT_THROW_MSG(reader.frame_range(parse_time_span("00:00:05.000-00:00:06.000")), FormatError,
                       "span 00:00:05.000-00:00:06.000 starts after the end of the video (00:00:02.000)");
}

TEST(VideoIo, ResizesFrames) {
  TempDir dir;
  write_test_video(dir / "clip.mp4");
  VideoReader reader(dir / "clip.mp4");
  FrameSize size{32, 16};
  at::Tensor frames = reader.read_frames({10}, &size, Interpolation::Bicubic);
  ASSERT_EQ(frames.sizes(), (std::vector<int64_t>{1, 3, 16, 32}));
  EXPECT_EQ(decoded_index(frames[0]), 10);
}

TEST(VideoIo, OutOfRangeIndexIsNamed) {
  TempDir dir;
  write_test_video(dir / "clip.mp4");
  VideoReader reader(dir / "clip.mp4");
  HDV_EXPECT_THROW_MSG(reader.read_frames({48}), Error, "frame 48 is out of range (the video has 48 frames)");
}

TEST(VideoIo, TruncatedFileGivesACleanError) {
  TempDir dir;
  write_test_video(dir / "clip.mp4");
  std::string bytes = test::read_bytes(dir / "clip.mp4");
  test::write_bytes(dir / "cut.mp4", bytes.substr(0, bytes.size() / 2));
  // Depending on where the container keeps its index, a truncated file fails at open or at the
  // first frame past the cut; either way the error names the file and never crashes.
  try {
    VideoReader reader(dir / "cut.mp4");
    std::vector<int64_t> all(reader.info().frame_count);
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    reader.read_frames(all);
    FAIL() << "a truncated video decoded completely";
  } catch (const FormatError& e) {
    std::string message = e.what();
    EXPECT_EQ(message.rfind((dir / "cut.mp4").string() + ": ", 0), 0u) << message;
    EXPECT_TRUE(message.find("cannot decode video") != std::string::npos ||
                message.find("could not be decoded") != std::string::npos)
        << message;
  }
}

TEST(VideoIo, MissingEmptyAndNonVideoFiles) {
  TempDir dir;
  HDV_EXPECT_THROW_MSG(VideoReader(dir / "none.mp4"), IoError, "none.mp4: no such file");
  test::write_bytes(dir / "empty.mp4", "");
  HDV_EXPECT_THROW_MSG(VideoReader(dir / "empty.mp4"), FormatError, "empty.mp4: cannot decode video (the file is empty)");
  test::write_bytes(dir / "text.mp4", std::string(5000, 'x'));
  HDV_EXPECT_THROW_MSG(VideoReader(dir / "text.mp4"), FormatError, "text.mp4: cannot decode video");
}

TEST(VideoIo, AbandonedWriterLeavesNoFile) {
  TempDir dir;
  {
    VideoWriter writer(dir / "partial.mp4", kFps, kWidth, kHeight);
    writer.write(torch::zeros({3, kHeight, kWidth}));
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  HDV_EXPECT_THROW_MSG(VideoWriter(dir / "x.gif", kFps, kWidth, kHeight), Error, "unsupported video extension \".gif\"");
  // Odd sizes are refused rather than written one row and column smaller, for either codec.
  HDV_EXPECT_THROW_MSG(VideoWriter(dir / "odd.mp4", kFps, 33, 17), Error,
                       "odd.mp4: video width and height must be even, got 33x17 (the encoder would drop the odd row or column)");
  HDV_EXPECT_THROW_MSG(VideoWriter(dir / "odd.avi", kFps, 32, 17), Error, "odd.avi: video width and height must be even, got 32x17");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

}  // namespace
}  // namespace hdv::core
