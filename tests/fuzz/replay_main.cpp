// hdv_fuzz_replay: runs fuzz targets on files, without libFuzzer, in the normal build.
//
//   hdv_fuzz_replay TARGET PATH...   (a PATH is a file, or a folder whose files are all run; a
//                                     missing folder counts as empty: not every target has
//                                     regressions)
//
// ctest runs it on tests/fuzz/corpus/<target>/ and tests/fuzz/regressions/<target>/, so every
// input that once crashed a parser is run by `make test` with the normal compiler. A finding
// aborts (fuzz_target.h); otherwise it prints how many inputs ran and exits 0. Exit 2: usage.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.h"

namespace hdv::fuzz {

std::map<std::string, TargetFunction>& targets() {
  static std::map<std::string, TargetFunction> table;
  return table;
}

bool register_target(const char* name, TargetFunction function) {
  targets()[name] = function;
  return true;
}

}  // namespace hdv::fuzz

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const auto& targets = hdv::fuzz::targets();
  auto usage = [&](const std::string& problem) {
    std::string names;
    for (const auto& [name, function] : targets) names += " " + name;
    std::fprintf(stderr, "error: %s\nusage: hdv_fuzz_replay TARGET PATH...\ntargets:%s\n", problem.c_str(),
                 names.c_str());
    return 2;
  };
  if (argc < 3) return usage("expected a target and at least one file or folder");
  auto target = targets.find(argv[1]);
  if (target == targets.end()) return usage(std::string("unknown target \"") + argv[1] + "\"");

  std::vector<fs::path> files;
  for (int i = 2; i < argc; ++i) {
    const fs::path path = argv[i];
    if (fs::is_directory(path)) {
      for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else if (fs::is_regular_file(path)) {
      files.push_back(path);
    } else {
      std::printf("%s: absent, nothing to run\n", path.c_str());
    }
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "error: %s: cannot read\n", file.c_str());
      return 1;
    }
    std::printf("%s\n", file.c_str());
    std::fflush(stdout);
    target->second(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::error_code ec;
  fs::remove_all(hdv::fuzz::scratch_dir(), ec);
  std::printf("%s: %zu input(s), no finding\n", argv[1], files.size());
  return 0;
}
