// Run-folder and stop-signal helpers shared by the training loops (see run_folder.h).
#include "training/run_folder.h"

#include <atomic>
#include <csignal>
#include <fstream>
#include <regex>
#include <string>

#include "core/atomic_file.h"
#include "core/config.h"

namespace hdv::train {
namespace {

namespace fs = std::filesystem;

std::atomic<int> g_stop_signal{0};

extern "C" void on_stop_signal(int signal) { g_stop_signal.store(signal); }

}  // namespace

fs::path latest_checkpoint(const fs::path& run_dir) {
  const fs::path folder = run_dir / "checkpoints";
  fs::path best;
  if (!fs::is_directory(folder)) return best;
  static const std::regex pattern(R"(step-(\d{8})\.safetensors)");
  std::string best_name;
  for (const auto& entry : fs::directory_iterator(folder)) {
    std::string name = entry.path().filename().string();
    if (std::regex_match(name, pattern) && name > best_name) {
      best_name = name;
      best = entry.path();
    }
  }
  return best;
}

void truncate_metrics(const fs::path& path, int64_t step) {
  if (!fs::exists(path)) return;
  std::ifstream in(path);
  std::string line, kept;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    core::Json record = core::parse_json(line, path.string());
    if (record.value("step", int64_t{0}) <= step) kept += line + "\n";
  }
  core::write_file_atomic(path, kept);
}

StopSignals::StopSignals() {
  g_stop_signal.store(0);
  previous_int_ = std::signal(SIGINT, on_stop_signal);
  previous_term_ = std::signal(SIGTERM, on_stop_signal);
}

StopSignals::~StopSignals() {
  std::signal(SIGINT, previous_int_);
  std::signal(SIGTERM, previous_term_);
}

int StopSignals::received() { return g_stop_signal.load(); }

}  // namespace hdv::train
