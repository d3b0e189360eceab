// What every resumable training run (pretrain, gan) does with its run folder and process:
// finding the newest checkpoint, keeping metrics.jsonl consistent with a resumed step, and turning
// SIGINT/SIGTERM into "checkpoint at the next step boundary, then stop".
#pragma once

#include <cstdint>
#include <filesystem>

namespace hdv::train {

// The newest <run_dir>/checkpoints/step-NNNNNNNN.safetensors, or an empty path when there is none.
std::filesystem::path latest_checkpoint(const std::filesystem::path& run_dir);

// metrics.jsonl keeps the records up to `step` (a resumed run rewrites what came after).
void truncate_metrics(const std::filesystem::path& path, int64_t step);

// Installs SIGINT/SIGTERM handlers for its lifetime (Slurm sends SIGTERM before a kill); the loop
// polls received() at step boundaries, saves a checkpoint and stops.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The signal received since construction (0 = none).
  static int received();

 private:
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

}  // namespace hdv::train
