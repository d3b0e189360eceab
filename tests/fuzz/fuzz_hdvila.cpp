// Fuzz target: the HD-VILA-100M reader (training/dataset.h), with SynthVid's labels.
//
// The input holds up to three files separated by lines "---": metadata.jsonl, clip_text.jsonl and
// labels.jsonl (absent parts are absent files).
#include "tests/fuzz/fuzz_dataset.h"

HDV_FUZZ_TARGET(hdvila) {
  using namespace hdv;
  const auto parts = fuzz::split_parts(std::string_view(reinterpret_cast<const char*>(data), size), 3);
  std::filesystem::remove(fuzz::scratch_dir() / "hdvila" / "clip_text.jsonl");
  std::filesystem::remove(fuzz::scratch_dir() / "hdvila" / "labels.jsonl");
  std::filesystem::create_directories(fuzz::scratch_dir() / "hdvila");
  const char* names[] = {"hdvila/metadata.jsonl", "hdvila/clip_text.jsonl", "hdvila/labels.jsonl"};
  for (size_t i = 0; i < parts.size(); ++i) fuzz::write_input(names[i], parts[i]);
  fuzz::load_fuzzed_dataset(fuzz::scratch_dir() / names[0], "");
  return 0;
}
