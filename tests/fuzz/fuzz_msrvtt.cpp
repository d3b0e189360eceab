// Fuzz target: the MSR-VTT reader (training/dataset.h).
//
// The input holds up to three files separated by lines "---": MSRVTT_data.json, the JSFusion test
// split MSRVTT_JSFUSION_test.csv and the 9k training split MSRVTT_train.9k.csv. The folder is
// loaded with the split named by the input's length (test, 1k-a-test, 9k-train, train, validate).
#include "tests/fuzz/fuzz_dataset.h"

HDV_FUZZ_TARGET(msrvtt) {
  using namespace hdv;
  const std::filesystem::path dir = fuzz::scratch_dir() / "msrvtt";
  const auto parts = fuzz::split_parts(std::string_view(reinterpret_cast<const char*>(data), size), 3);
  std::filesystem::remove(dir / "MSRVTT_JSFUSION_test.csv");
  std::filesystem::remove(dir / "MSRVTT_train.9k.csv");
  std::filesystem::create_directories(dir);
  const char* names[] = {"msrvtt/MSRVTT_data.json", "msrvtt/MSRVTT_JSFUSION_test.csv", "msrvtt/MSRVTT_train.9k.csv"};
  for (size_t i = 0; i < parts.size(); ++i) fuzz::write_input(names[i], parts[i]);
  const char* splits[] = {"test", "1k-a-test", "9k-train", "train", "validate"};
  fuzz::load_fuzzed_dataset(fuzz::scratch_dir() / names[0], splits[size % 5]);
  return 0;
}
