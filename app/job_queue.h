// The studio's job queue: model work waits here for the one worker thread (worker.h).
//
// "Latest request wins": a job marked `replaceable` (a live edit preview, re-requested on every
// slider move) replaces any queued, not yet started job of the same kind, so the worker only
// renders the newest preview instead of working through stale ones. Other jobs (inversions,
// optimisations, commits) are never dropped and run in the order they were submitted.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "core/progress.h"

namespace hdv::app {

// What a running job may use: its cancel flag and a progress sink (step, total, seconds).
struct JobContext {
  const std::atomic<bool>* cancel = nullptr;
  core::ProgressCallback progress;
};

struct Job {
  std::string kind;          // "preview", "edit", "invert", ...: shown in the status line
  bool replaceable = false;  // dropped when a newer job of the same kind is queued before it starts
  std::function<void(const JobContext&)> run;
};

class JobQueue {
 public:
  // Queues `job`; returns how many stale queued jobs it replaced (0 unless job.replaceable).
  size_t push(Job job);
  // Blocks until a job is queued or the queue is closed; nullopt once closed and empty.
  std::optional<Job> pop();
  // Removes every queued job; returns how many.
  size_t clear();
  // Wakes pop() for good: it returns the queued jobs, then nullopt.
  void close();
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Job> jobs_;
  bool closed_ = false;
};

}  // namespace hdv::app
