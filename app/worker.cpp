// Worker: the job thread of the studio (see worker.h).
#include "app/worker.h"

#include <torch/torch.h>

#include <chrono>
#include <new>

#include <fmt/format.h>

#include "core/error.h"
#include "generation/vl_guide.h"

namespace hdv::app {

Worker::Worker(FinishCallback on_finish) : on_finish_(std::move(on_finish)), thread_([this] { loop(); }) {}

Worker::~Worker() {
  cancel();
  queue_.close();
  thread_.join();
}

size_t Worker::submit(Job job) {
  // Counted before it is queued, so busy() never reads false between submit and pop.
  ++running_;
  const size_t dropped = queue_.push(std::move(job));
  running_ -= static_cast<int>(dropped);
  return dropped;
}

void Worker::cancel() {
  running_ -= static_cast<int>(queue_.clear());
  cancel_ = true;
}

bool Worker::busy() const { return running_.load() > 0; }

JobProgress Worker::progress() const {
  std::lock_guard lock(progress_mutex_);
  return progress_;
}

void Worker::loop() {
  while (std::optional<Job> job = queue_.pop()) {
    cancel_ = false;
    {
      std::lock_guard lock(progress_mutex_);
      progress_ = JobProgress{job->kind, 0, 0, 0};
    }
    JobContext context;
    context.cancel = &cancel_;
    context.progress = [this](int64_t step, int64_t total, double seconds) {
      std::lock_guard lock(progress_mutex_);
      progress_.step = step;
      progress_.total = total;
      progress_.seconds = seconds;
    };
    JobOutcome outcome;
    outcome.kind = job->kind;
    const auto start = std::chrono::steady_clock::now();
    try {
      job->run(context);
    } catch (const gen::Cancelled&) {
      outcome.ok = false;
      outcome.cancelled = true;
      outcome.error = fmt::format("{}: cancelled", job->kind);
    } catch (const core::Error& e) {
      outcome.ok = false;
      outcome.error = e.what();
    } catch (const c10::Error& e) {
      outcome.ok = false;
      outcome.error = fmt::format("{}: {}", job->kind, e.what_without_backtrace());
    } catch (const std::bad_alloc&) {
      outcome.ok = false;
      outcome.error = fmt::format("{}: out of memory (try a smaller model, fewer candidates or the CPU)", job->kind);
    } catch (const std::exception& e) {
      outcome.ok = false;
      outcome.error = fmt::format("{}: {}", job->kind, e.what());
    }
    outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    {
      std::lock_guard lock(progress_mutex_);
      progress_ = JobProgress{};
    }
    if (on_finish_) on_finish_(outcome);
    --running_;
  }
}

}  // namespace hdv::app
