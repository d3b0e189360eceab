// Fuzz target: the WebVid CSV reader (training/dataset.h). The input is the whole CSV file.
#include "tests/fuzz/fuzz_dataset.h"

HDV_FUZZ_TARGET(webvid) {
  using namespace hdv;
  std::filesystem::create_directories(fuzz::scratch_dir() / "webvid");
  const std::filesystem::path path =
      fuzz::write_input("webvid/results.csv", std::string_view(reinterpret_cast<const char*>(data), size));
  fuzz::load_fuzzed_dataset(path, "");
  return 0;
}
