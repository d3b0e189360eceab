// Fuzz target: the safetensors header and tensor table (core/safetensors.h).
//
// The input is a whole file. parse_safetensors_header sees it in memory; a header that passes is
// then written to a file and opened through SafetensorsFile::open, and every tensor it lists is
// loaded and read byte by byte (so a table that lies about the data is caught by ASan).
#include <ATen/ATen.h>

#include "core/safetensors.h"
#include "tests/fuzz/fuzz_target.h"

HDV_FUZZ_TARGET(safetensors) {
  using namespace hdv;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  bool valid = false;
  fuzz::expect_clean(
      [&] {
        core::parse_safetensors_header(bytes, size, "input.safetensors");
        valid = true;
      },
      [&](const core::Error& e) { fuzz::check_names_input(e, "input.safetensors"); });
  if (!valid) return 0;

  const std::filesystem::path path = fuzz::write_input("input.safetensors", bytes);
  fuzz::expect_clean(
      [&] {
        const core::SafetensorsFile file = core::SafetensorsFile::open(path);
        for (const core::TensorEntry& entry : file.entries()) {
          fuzz::expect_clean(
              [&] {
                const at::Tensor tensor = file.tensor(entry.name);
                const auto* p = static_cast<const volatile uint8_t*>(tensor.data_ptr());
                uint8_t sum = 0;
                for (size_t i = 0; i < tensor.nbytes(); ++i) sum = uint8_t(sum + p[i]);
                (void)sum;
              },
              [&](const core::Error& e) { fuzz::check_names_input(e, path.string()); });
        }
      },
      [&](const core::Error& e) { fuzz::finding("header passed in memory but not from the file", e.what()); });
  return 0;
}
