// Video subcommands of hdvila-train:
//   video-info FILE                      fps, frames, duration, size as the container declares them
//   frames --video FILE --out DIR ...    evenly spaced frames of a time span as PNGs + contact sheet
//   test-pattern --out FILE.mp4 ...      a moving test pattern, to check a machine's video pipeline
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "core/contact_sheet.h"
#include "core/error.h"
#include "core/image_io.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timecode.h"
#include "core/video_io.h"
#include "training/command.h"

namespace hdv::train {
namespace {

// "320x180" -> {320, 180}; UsageError naming the flag otherwise.
core::FrameSize parse_size(const std::string& text, const std::string& flag) {
  int width = 0, height = 0;
  char x = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &width, &x, &height, &extra) != 3 || x != 'x' || width <= 0 ||
      height <= 0 || width > 16384 || height > 16384) {
    throw core::UsageError(fmt::format("{}: expected WIDTHxHEIGHT such as 320x180, got \"{}\"", flag, text));
  }
  return {width, height};
}

// frames: [N, 3, H, W] -> one roughly square sheet at full size.
at::Tensor frame_sheet(const at::Tensor& frames) {
  const auto cols = static_cast<int64_t>(std::ceil(std::sqrt(double(frames.size(0)))));
  std::vector<std::vector<at::Tensor>> rows;
  for (int64_t i = 0; i < frames.size(0); ++i) {
    if (i % cols == 0) rows.emplace_back();
    rows.back().push_back(frames[i]);
  }
  return core::contact_sheet(rows, std::max(frames.size(2), frames.size(3)));
}

// Frame t of the test pattern: colour bars drifting right, a white square crossing the frame, and
// the frame index as 12 binary blocks along the top edge (white = 1), so seeks can be checked.
at::Tensor pattern_frame(int64_t t, int64_t frames, int width, int height) {
  at::Tensor x = torch::arange(width, torch::kFloat32).div(width).view({1, 1, width}).expand({1, height, width});
  at::Tensor y = torch::arange(height, torch::kFloat32).div(height).view({1, height, 1}).expand({1, height, width});
  double phase = double(t) / std::max<int64_t>(frames, 1);
  at::Tensor hue = (x + phase).frac() * 6.0;
  at::Tensor r = (hue - 3).abs().sub(1).clamp(0, 1), g = (2 - (hue - 2).abs()).clamp(0, 1),
             b = (2 - (hue - 4).abs()).clamp(0, 1);
  at::Tensor image = torch::cat({r, g, b}, 0).mul(0.5 + 0.5 * y) * 2 - 1;
  int side = std::max(4, height / 4);
  int left = static_cast<int>(phase * (width - side)), top = height / 2 - side / 2;
  image.narrow(1, top, side).narrow(2, left, side).fill_(1.0);
  int block = std::max(2, width / 16), bits = std::min(12, width / block);
  for (int bit = 0; bit < bits; ++bit) {
    image.narrow(1, 0, std::min(block, height)).narrow(2, bit * block, block).fill_(((t >> bit) & 1) ? 1.0 : -1.0);
  }
  return image;
}

}  // namespace

void add_video_commands(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  {
    auto path = std::make_shared<std::string>();
    CLI::App* sub = app.add_subcommand("video-info", "Print a video's frame rate, frame count, duration and size");
    sub->add_option("file", *path, "Video file (MP4, AVI, MKV, WebM, ... as FFmpeg decodes)")->required();
    commands.push_back({sub, [path, &common] {
      core::apply_log_options(common);
      core::VideoReader reader(*path);
      const core::VideoInfo& info = reader.info();
      std::printf("file: %s\nfps: %.3f\nframes: %lld\nduration: %s\nsize: %dx%d\n", path->c_str(), info.fps,
                  static_cast<long long>(info.frame_count), core::format_timecode(info.duration).c_str(), info.width,
                  info.height);
    }});
  }
  {
    struct Options {
      std::string video, span, size, out;
      int count = 7;
    };
    auto options = std::make_shared<Options>();
    CLI::App* sub = app.add_subcommand("frames", "Decode evenly spaced frames of a time span into PNGs and a contact sheet");
    sub->add_option("--video", options->video, "Video file")->required();
    sub->add_option("--span", options->span, "Time span START-END as HH:MM:SS.mmm-HH:MM:SS.mmm (default: whole video)");
    sub->add_option("--count", options->count, "Number of frames")->check(core::positive_integer())->capture_default_str();
    sub->add_option("--size", options->size, "Resize frames to WIDTHxHEIGHT (default: native size)");
    sub->add_option("--out", options->out, "Output folder")->required();
    commands.push_back({sub, [options, &common] {
      core::apply_log_options(common);
      std::optional<core::FrameSize> size;
      if (!options->size.empty()) size = parse_size(options->size, "--size");
      core::TimeSpan span;
      bool has_span = !options->span.empty();
      if (has_span) {
        try {
          span = core::parse_time_span(options->span, "--span");
        } catch (const core::FormatError& e) {
          throw core::UsageError(e.what());
        }
      }
      core::VideoReader reader(options->video);
      auto [first, last] = has_span ? reader.frame_range(span) : std::pair<int64_t, int64_t>{0, reader.info().frame_count};
      std::vector<int64_t> indices;
      for (int i = 0; i < options->count; ++i) {
        indices.push_back(first + static_cast<int64_t>(std::floor((i + 0.5) * double(last - first) / options->count)));
      }
      std::filesystem::create_directories(options->out);
      core::ConsoleProgress progress("decoding frames", "frames");
      std::vector<at::Tensor> frames;
      for (size_t i = 0; i < indices.size(); ++i) {
        at::Tensor frame = reader.read_frames({indices[i]}, size ? &*size : nullptr)[0];
        core::save_png(std::filesystem::path(options->out) / fmt::format("frame_{:06d}.png", indices[i]), frame);
        frames.push_back(frame);
        progress.update(static_cast<int64_t>(i + 1), static_cast<int64_t>(indices.size()));
      }
      progress.finish();
      auto sheet_path = std::filesystem::path(options->out) / "contact_sheet.png";
      core::save_png(sheet_path, frame_sheet(torch::stack(frames)));
      std::printf("%zu frames (indices %lld..%lld of %lld) written to %s\ncontact sheet: %s\n", frames.size(),
                  static_cast<long long>(indices.front()), static_cast<long long>(indices.back()),
                  static_cast<long long>(reader.info().frame_count), options->out.c_str(), sheet_path.c_str());
    }});
  }
  {
    struct Options {
      std::string out, size = "320x180";
      double seconds = 4, fps = 25;
    };
    auto options = std::make_shared<Options>();
    CLI::App* sub = app.add_subcommand("test-pattern", "Write a moving test-pattern video (checks video encode/decode)");
    sub->add_option("--out", options->out, "Output video (.mp4 or .avi)")->required();
    sub->add_option("--seconds", options->seconds, "Duration in seconds")->check(core::positive_number())->capture_default_str();
    sub->add_option("--fps", options->fps, "Frames per second")->check(core::positive_number())->capture_default_str();
    sub->add_option("--size", options->size, "Frame size WIDTHxHEIGHT")->capture_default_str();
    commands.push_back({sub, [options, &common] {
      core::apply_log_options(common);
      core::FrameSize size = parse_size(options->size, "--size");
      auto frames = static_cast<int64_t>(std::llround(options->seconds * options->fps));
      if (frames < 1) throw core::UsageError("--seconds: the video would hold no frame at this --fps");
      core::VideoWriter writer(options->out, options->fps, size.width, size.height);
      core::ConsoleProgress progress("writing test pattern", "frames");
      for (int64_t t = 0; t < frames; ++t) {
        writer.write(pattern_frame(t, frames, size.width, size.height));
        progress.update(t + 1, frames);
      }
      writer.close();
      progress.finish();
      std::printf("%lld frames at %.3f fps (%dx%d) written to %s\n", static_cast<long long>(frames), options->fps,
                  size.width, size.height, options->out.c_str());
    }});
  }
}

}  // namespace hdv::train
