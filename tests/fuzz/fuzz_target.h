// What every fuzz target shares (tests/fuzz/fuzz_<target>.cpp; docs/reliability.md).
//
// A target is written once, as HDV_FUZZ_TARGET(name) { ... }, and built two ways:
//   - with HDV_FUZZ=ON (clang, -fsanitize=fuzzer,address,undefined): it is libFuzzer's
//     LLVMFuzzerTestOneInput, one executable per target (fuzz_<name>);
//   - in the normal build (HDV_FUZZ_REPLAY): it registers itself with hdv_fuzz_replay, which runs
//     the seed corpora and the crash regressions of tests/fuzz/ under ctest without libFuzzer.
// The contract each target checks: bad input ends in a core::Error (whose message names the input)
// or in success. Any other exception, a crash or a sanitizer report is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "core/error.h"

namespace hdv::fuzz {

using TargetFunction = int (*)(const uint8_t* data, size_t size);
// Adds a target to the replay executable's table (HDV_FUZZ_REPLAY only); returns true.
bool register_target(const char* name, TargetFunction function);

// A folder of this process for targets whose parser takes a path: /tmp/hdv-fuzz-<pid>.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path path = std::filesystem::temp_directory_path() / ("hdv-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    return path;
  }();
  return dir;
}

// Writes bytes to scratch_dir()/name (replacing it) and returns the path.
inline std::filesystem::path write_input(const std::string& name, std::string_view bytes) {
  std::filesystem::path path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

// A finding: prints it and aborts, which libFuzzer reports as a crash and saves the input.
[[noreturn]] inline void finding(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "fuzz finding: %.*s: %.*s\n", int(what.size()), what.data(), int(detail.size()), detail.data());
  std::abort();
}

// An expected error must name the input it is about (STYLE.md "Errors").
inline void check_names_input(const core::Error& error, std::string_view source) {
  if (std::string_view(error.what()).find(source) == std::string_view::npos) {
    finding("error does not name " + std::string(source), error.what());
  }
}

// Runs f(); a core::Error passes through `on_error`, any other exception is a finding.
template <class F, class OnError>
void expect_clean(F&& f, OnError&& on_error) {
  try {
    f();
  } catch (const core::Error& error) {
    on_error(error);
  } catch (const std::exception& other) {
    finding("exception other than hdv::core::Error", other.what());
  }
}

}  // namespace hdv::fuzz

#ifdef HDV_FUZZ_REPLAY
#define HDV_FUZZ_TARGET(name)                                                                      \
  static int hdv_fuzz_target_##name(const uint8_t* data, size_t size);                            \
  [[maybe_unused]] static const bool hdv_fuzz_registered_##name =                                  \
      hdv::fuzz::register_target(#name, hdv_fuzz_target_##name);                                  \
  static int hdv_fuzz_target_##name(const uint8_t* data, size_t size)
#else
#define HDV_FUZZ_TARGET(name) extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
#endif
