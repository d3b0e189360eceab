// Benchmark: loading a safetensors checkpoint with hdvila's reader (core/safetensors.h).
// Counterpart: bench/bench_safetensors.py (Python `safetensors` package, same file, same work).
//
// Work per run, identical on both sides (1 thread):
//   open:  open + validate the file and read every tensor's dtype and shape (no data touched);
//   touch: open, get every tensor and sum it, so every byte is read from the mapping.
// Prints the median and min over --runs runs.
// usage: hdv_bench_safetensors FILE [--runs N] [--mode open|touch]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "core/safetensors.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [--runs N] [--mode open|touch]\n", argv[0]);
    return 2;
  }
  std::string path = argv[1], mode = "touch";
  int runs = 20;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--runs") runs = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--mode") mode = argv[i + 1];
    else {
      std::fprintf(stderr, "error: %s: unknown flag\n", flag.c_str());
      return 2;
    }
  }
  torch::set_num_threads(1);
  std::vector<double> seconds;
  int64_t bytes = 0;
  for (int r = 0; r < runs; ++r) {
    auto start = std::chrono::steady_clock::now();
    auto file = hdv::core::SafetensorsFile::open(path);
    bytes = 0;
    double checksum = 0;
    for (const auto& entry : file.entries()) {
      if (mode == "touch") {
        at::Tensor t = file.tensor(entry.name);
        checksum += t.sum().item<double>();
        bytes += t.numel() * t.element_size();
      } else {
        bytes += static_cast<int64_t>(entry.end - entry.begin);
      }
    }
    if (checksum == 12345.678) std::printf(" ");  // keeps the sums from being optimised away
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  std::printf("cpp %s: %zu runs, %.1f MB, median %.2f ms, min %.2f ms\n", mode.c_str(), seconds.size(), bytes / 1e6,
              seconds[seconds.size() / 2] * 1e3, seconds.front() * 1e3);
  return 0;
}
