// The dataset fuzz targets' shared part: lay the input out as a dataset and load it through
// train::load_dataset (training/dataset.h), the entry point of pretrain, eval and inspect.
#pragma once

#include <string_view>
#include <vector>

#include "core/log.h"
#include "tests/fuzz/fuzz_target.h"
#include "training/dataset.h"

namespace hdv::fuzz {

// Splits the input at lines "---" (so one input can hold the several files of a dataset).
inline std::vector<std::string_view> split_parts(std::string_view bytes, size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const size_t cut = bytes.find("\n---\n");
    if (cut == std::string_view::npos) break;
    parts.push_back(bytes.substr(0, cut + 1));
    bytes.remove_prefix(cut + 5);
  }
  parts.push_back(bytes);
  return parts;
}

// Loads `file` (inside scratch_dir()/folder) with `split`; errors must name a file of the folder.
inline void load_fuzzed_dataset(const std::filesystem::path& file, const std::string& split) {
  static const bool quiet = [] {
    core::set_log_level(core::LogLevel::Error);
    return true;
  }();
  (void)quiet;
  train::DataSpec spec;
  spec.path = file;
  spec.split = split;
  spec.video_root = scratch_dir() / "no-videos";
  expect_clean(
      [&] {
        const train::Dataset dataset = train::load_dataset(spec);
        for (const train::ClipRecord& clip : dataset.clips) {
          if (clip.texts.empty()) finding("a clip without captions came back", clip.clip_id);
        }
      },
      [&](const core::Error& e) { check_names_input(e, file.parent_path().string()); });
}

}  // namespace hdv::fuzz
