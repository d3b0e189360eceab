// hdvila-train synth: writes the SynthVid dataset (training/synthvid.h, docs/synthvid.md).
//
//   hdvila-train synth --out DIR --clips N --seed S [--split all|train,val,test,compositional] ...
#include <algorithm>
#include <cstdlib>
#include <sstream>

#include <fmt/format.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "training/command.h"
#include "training/synthvid.h"

namespace hdv::train {
namespace {

// "all" or a comma-separated list of split names -> the list; UsageError naming --split otherwise.
std::vector<std::string> parse_splits(const std::string& text) {
  if (text == "all") return {kSynthSplits.begin(), kSynthSplits.end()};
  std::vector<std::string> splits;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) {
    bool known = std::find(kSynthSplits.begin(), kSynthSplits.end(), item) != kSynthSplits.end();
    bool repeated = std::find(splits.begin(), splits.end(), item) != splits.end();
    if (!known || repeated) {
      throw core::UsageError(fmt::format(
          "--split: expected all or a comma-separated list of distinct train, val, test, compositional, got \"{}\"",
          text));
    }
    splits.push_back(item);
  }
  if (splits.empty()) {
    throw core::UsageError(
        fmt::format("--split: expected all or a comma-separated list of train, val, test, compositional, got \"{}\"", text));
  }
  return splits;
}

// A comma-separated list of distinct words of `vocabulary` -> the list ("" = every word, the empty
// list); UsageError naming `flag` otherwise.
template <size_t N>
std::vector<std::string> parse_words(const std::string& flag, const std::string& text,
                                     const std::array<std::string_view, N>& vocabulary) {
  std::vector<std::string> words;
  if (text.empty()) return words;
  std::string choices;
  for (std::string_view word : vocabulary) choices += fmt::format("{}{}", choices.empty() ? "" : ", ", word);
  auto fail = [&] {
    throw core::UsageError(fmt::format("{}: expected a comma-separated list of distinct {}, got \"{}\"", flag, choices, text));
  };
  if (text.back() == ',') fail();  // getline drops a trailing empty item
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) {
    bool known = std::find(vocabulary.begin(), vocabulary.end(), item) != vocabulary.end();
    bool repeated = std::find(words.begin(), words.end(), item) != words.end();
    if (!known || repeated) fail();
    words.push_back(item);
  }
  return words;
}

// Frame size: an integer multiple of 4 in 16..4096.
CLI::Validator frame_size() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        long value = std::strtol(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || value < 16 || value > 4096 || value % kTexturePeriod != 0) {
          return fmt::format("expected a multiple of {} in 16..4096, got \"{}\"", kTexturePeriod, text);
        }
        return {};
      },
      "INT%4");
}

CLI::Validator probability() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        double value = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !(value >= 0 && value <= 1)) {
          return fmt::format("expected a probability in [0, 1], got \"{}\"", text);
        }
        return {};
      },
      "0..1");
}

}  // namespace

void add_synth_command(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  struct Options {
    std::string out;
    std::string split = "all";
    std::string sizes, motions;
    SynthVidConfig config;
  };
  auto options = std::make_shared<Options>();
  SynthVidConfig& c = options->config;
  CLI::App* sub = app.add_subcommand("synth", "Write the SynthVid captioned-video dataset (HD-VILA-100M layout)");
  sub->add_option("--out", options->out, "Output folder (refused when not empty, unless --force)")->required();
  sub->add_option("--clips", c.train_clips, "Clips in the train split")->check(core::non_negative_integer())->capture_default_str();
  sub->add_option("--seed", c.seed, "Seed; each split derives its own from (seed, split name)")
      ->check(core::non_negative_integer())
      ->capture_default_str();
  sub->add_option("--split", options->split, "Splits to write: all, or a comma-separated list of train, val, test, compositional")
      ->capture_default_str();
  sub->add_option("--val-clips", c.val_clips, "Clips in the val split")->check(core::non_negative_integer())->capture_default_str();
  sub->add_option("--test-clips", c.test_clips, "Clips in the test split (pairwise-distinct attribute tuples)")
      ->check(core::non_negative_integer())
      ->capture_default_str();
  sub->add_option("--compositional-clips", c.compositional_clips, "Clips in the compositional split (held-out class-colour pairs)")
      ->check(core::non_negative_integer())
      ->capture_default_str();
  sub->add_option("--size", c.size, "Frame width and height in pixels")->check(frame_size())->capture_default_str();
  sub->add_option("--fps", c.fps, "Frames per second")->check(core::positive_number())->capture_default_str();
  sub->add_option("--frames", c.frames, "Frames per clip")->check(core::positive_integer())->capture_default_str();
  sub->add_option("--clips-per-video", c.clips_per_video, "Consecutive clips per source video")
      ->check(core::positive_integer())
      ->capture_default_str();
  sub->add_option("--second-object-prob", c.second_object_prob, "Probability that a clip holds a second object")
      ->check(probability())
      ->capture_default_str();
  sub->add_option("--sizes", options->sizes, "Sizes objects may have, comma-separated (default: all)");
  sub->add_option("--motions", options->motions, "Motions objects may have, comma-separated (default: all)");
  sub->add_flag("--centred", c.centred,
                "Centre the primary object at mid-clip (product shots for a generator: with --second-object-prob 0 "
                "--sizes large --motions still)");
  sub->add_option("--texture-scales", c.texture_scales,
                  "Texture periods each object draws among, in multiples of 4 pixels, comma-separated (default: 1, "
                  "4 px); 1,2 also shows textures at 8 px")
      ->delimiter(',');
  sub->add_flag("--chinese", c.chinese, "Also write Chinese captions (\"text_zh\")");
  sub->add_flag("--whole-videos", c.whole_videos, "Also write each source video whole (<split>/videos/<video_id>.mp4)");
  sub->add_option("--fashion-mnist", c.fashion_mnist_dir, "Folder of the Fashion-MNIST IDX .gz files")->capture_default_str();
  sub->add_option("--jobs", c.jobs, "Rendering/encoding threads (0 = hardware threads)")
      ->check(core::non_negative_integer())
      ->capture_default_str();
  sub->add_flag("--force", c.force, "Write into a non-empty --out (replaces synthvid.json and the splits written)");
  commands.push_back({sub, [options, &common] {
    core::apply_log_options(common);
    SynthVidConfig config = options->config;
    config.splits = parse_splits(options->split);
    config.sizes = parse_words("--sizes", options->sizes, kSynthSizes);
    config.motions = parse_words("--motions", options->motions, kSynthMotions);
    try {
      config.validate();
    } catch (const core::ConfigError& e) {
      throw core::UsageError(e.what());  // the flags' validators catch these first
    }
    core::log_info("synth config: {}", core::config_to_json(config).dump());
    core::ConsoleProgress progress("rendering clips", "clips");
    SynthVidSummary summary = write_synthvid(options->out, config, progress.callback());
    progress.finish();
    int64_t total = 0;
    std::string counts;
    for (const auto& [split, clips] : summary.clips) {
      counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", split, clips);
      total += clips;
    }
    core::log_info("synthvid: {} clips ({}) written to {} in {:.1f} s ({:.1f} clips/s)", total, counts, options->out,
                   summary.seconds, summary.seconds > 0 ? double(total) / summary.seconds : 0.0);
  }});
}

}  // namespace hdv::train
