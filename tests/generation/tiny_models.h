// Tiny random models written to a folder for pipeline-level tests (edit and SR evaluation): a
// stylegan2-tiny generator (16 px), an hdvila-tiny VL model with a small vocabulary beside it,
// the generator's direction table, and an oracle reading class (shirt, bag) and colour (red,
// blue, green). Seeded: the same models every call.
#pragma once

#include "generation/pipeline.h"
#include "tests/core/test_support.h"

namespace hdv::gen {

// Writes generator.safetensors, vl.safetensors (+ vocab.txt), directions.safetensors and
// oracle.safetensors into `dir`; returns pipeline options naming them.
PipelineOptions write_tiny_models(const test::TempDir& dir);

// Sets LibTorch's CPU threads (of the calling thread) for its lifetime and restores them after,
// also when an assertion ends the test early: the worker tests compare one worker with several
// on the same threads per op, so the float sums run in the same order.
class ScopedThreads {
 public:
  explicit ScopedThreads(int threads);
  ~ScopedThreads();
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;

 private:
  int saved_;
};

}  // namespace hdv::gen
