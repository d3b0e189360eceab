// The studio's one worker thread: runs queued jobs (job_queue.h) one at a time, so the UI thread
// never waits on a model and the (not thread-safe) Pipeline is only ever touched from here.
//
// A job's exception does not escape: the worker turns it into a JobOutcome (the error text, or
// `cancelled`) passed to the `on_finish` callback, which the studio uses to show the error in
// the window. Progress of the running job is readable from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "app/job_queue.h"

namespace hdv::app {

struct JobOutcome {
  std::string kind;
  bool ok = true;
  bool cancelled = false;
  std::string error;  // what went wrong, for the window ("out of memory: ...", the file error)
  double seconds = 0;
};

struct JobProgress {
  std::string kind;  // "" when idle
  int64_t step = 0, total = 0;
  double seconds = 0;
};

class Worker {
 public:
  using FinishCallback = std::function<void(const JobOutcome&)>;
  // on_finish runs on the worker thread after every job (it must be thread-safe).
  explicit Worker(FinishCallback on_finish);
  ~Worker();  // cancels the running job, drops the queue and joins
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Returns how many stale previews the job replaced.
  size_t submit(Job job);
  // Asks the running job to stop (at its next cancellation check) and drops the queued jobs.
  void cancel();
  // A job is running or queued.
  bool busy() const;
  JobProgress progress() const;

 private:
  void loop();

  FinishCallback on_finish_;
  JobQueue queue_;
  std::atomic<bool> cancel_{false};
  std::atomic<int> running_{0};
  mutable std::mutex progress_mutex_;
  JobProgress progress_;
  std::thread thread_;
};

}  // namespace hdv::app
