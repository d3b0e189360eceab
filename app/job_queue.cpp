// JobQueue: FIFO with latest-request-wins replacement (see job_queue.h).
#include "app/job_queue.h"

#include <algorithm>

namespace hdv::app {

size_t JobQueue::push(Job job) {
  size_t dropped = 0;
  {
    std::lock_guard lock(mutex_);
    if (job.replaceable) {
      const auto stale = [&](const Job& queued) { return queued.replaceable && queued.kind == job.kind; };
      const auto before = jobs_.size();
      jobs_.erase(std::remove_if(jobs_.begin(), jobs_.end(), stale), jobs_.end());
      dropped = before - jobs_.size();
    }
    jobs_.push_back(std::move(job));
  }
  ready_.notify_one();
  return dropped;
}

std::optional<Job> JobQueue::pop() {
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [&] { return closed_ || !jobs_.empty(); });
  if (jobs_.empty()) return std::nullopt;
  Job job = std::move(jobs_.front());
  jobs_.pop_front();
  return job;
}

size_t JobQueue::clear() {
  std::lock_guard lock(mutex_);
  const size_t n = jobs_.size();
  jobs_.clear();
  return n;
}

void JobQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  ready_.notify_all();
}

size_t JobQueue::size() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

}  // namespace hdv::app
