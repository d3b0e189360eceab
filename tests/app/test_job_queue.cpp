// JobQueue and Worker (app/job_queue.h, app/worker.h): "latest request wins" for live previews,
// everything else in order, job errors turned into outcomes, cancellation.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "app/job_queue.h"
#include "app/worker.h"
#include "core/error.h"
#include "generation/vl_guide.h"

namespace hdv::app {
namespace {

// Records which jobs ran, in order (thread-safe).
struct Record {
  std::mutex mutex;
  std::vector<std::string> ran;
  void add(const std::string& name) {
    std::lock_guard lock(mutex);
    ran.push_back(name);
  }
  std::vector<std::string> get() {
    std::lock_guard lock(mutex);
    return ran;
  }
};

Job named(const std::string& kind, bool replaceable, const std::string& name, Record& record) {
  return Job{kind, replaceable, [name, &record](const JobContext&) { record.add(name); }};
}

void wait_idle(const Worker& worker) {
  for (int i = 0; i < 2000 && worker.busy(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_FALSE(worker.busy());
}

TEST(JobQueue, ReplaceableJobReplacesQueuedJobsOfItsKindOnly) {
  JobQueue queue;
  Record record;
  EXPECT_EQ(queue.push(named("preview", true, "preview 1", record)), 0u);
  EXPECT_EQ(queue.push(named("edit", false, "edit", record)), 0u);
  EXPECT_EQ(queue.push(named("preview", true, "preview 2", record)), 1u);  // replaces preview 1
  EXPECT_EQ(queue.push(named("invert", true, "invert preview", record)), 0u);  // other kind: kept
  EXPECT_EQ(queue.push(named("preview", false, "preview commit", record)), 0u);  // not replaceable: drops nothing
  EXPECT_EQ(queue.push(named("preview", true, "preview 3", record)), 1u);  // replaces preview 2, not the commit
  queue.close();
  while (std::optional<Job> job = queue.pop()) job->run(JobContext{});
  EXPECT_EQ(record.get(), (std::vector<std::string>{"edit", "invert preview", "preview commit", "preview 3"}));
}

TEST(JobQueue, ClearAndClose) {
  JobQueue queue;
  Record record;
  queue.push(named("a", false, "a", record));
  queue.push(named("b", false, "b", record));
  EXPECT_EQ(queue.size(), 2u);
  EXPECT_EQ(queue.clear(), 2u);
  queue.close();
  EXPECT_FALSE(queue.pop().has_value());
}

TEST(Worker, LatestPreviewWinsWhileTheWorkerIsBusy) {
  Record record;
  std::vector<JobOutcome> outcomes;
  std::mutex outcomes_mutex;
  Worker worker([&](const JobOutcome& o) {
    std::lock_guard lock(outcomes_mutex);
    outcomes.push_back(o);
  });
  // A long job holds the worker while five previews are requested (a slider being dragged).
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  worker.submit(Job{"optimise", false, [&, released](const JobContext&) {
                      started.set_value();
                      released.wait();
                      record.add("optimise");
                    }});
  started.get_future().wait();
  size_t dropped = 0;
  for (int i = 1; i <= 5; ++i) dropped += worker.submit(named("preview", true, "preview " + std::to_string(i), record));
  EXPECT_EQ(dropped, 4u);
  EXPECT_TRUE(worker.busy());
  release.set_value();
  wait_idle(worker);
  EXPECT_EQ(record.get(), (std::vector<std::string>{"optimise", "preview 5"}));
  std::lock_guard lock(outcomes_mutex);
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_TRUE(outcomes[0].ok);
  EXPECT_EQ(outcomes[1].kind, "preview");
}

TEST(Worker, JobErrorsBecomeOutcomesAndTheWorkerGoesOn) {
  std::vector<JobOutcome> outcomes;
  std::mutex mutex;
  Worker worker([&](const JobOutcome& o) {
    std::lock_guard lock(mutex);
    outcomes.push_back(o);
  });
  worker.submit(Job{"open", false, [](const JobContext&) { throw core::FormatError("x.png: cannot decode image"); }});
  worker.submit(Job{"edit", false, [](const JobContext&) { throw std::bad_alloc(); }});
  worker.submit(Job{"render", false, [](const JobContext&) { torch::zeros({2}).view({3}); }});
  worker.submit(Job{"sample", false, [](const JobContext& c) { c.progress(1, 1, 0.5); }});
  wait_idle(worker);
  std::lock_guard lock(mutex);
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_EQ(outcomes[0].error, "x.png: cannot decode image");
  EXPECT_FALSE(outcomes[0].ok);
  EXPECT_EQ(outcomes[1].error, "edit: out of memory (try a smaller model, fewer candidates or the CPU)");
  EXPECT_EQ(outcomes[2].error.rfind("render: shape '[3]' is invalid for input of size 2", 0), 0u) << outcomes[2].error;
  EXPECT_TRUE(outcomes[3].ok);
  EXPECT_TRUE(outcomes[3].error.empty());
}

TEST(Worker, CancelStopsTheRunningJobAndDropsTheQueue) {
  Record record;
  std::vector<JobOutcome> outcomes;
  std::mutex mutex;
  Worker worker([&](const JobOutcome& o) {
    std::lock_guard lock(mutex);
    outcomes.push_back(o);
  });
  std::promise<void> started;
  worker.submit(Job{"optimise", false, [&](const JobContext& c) {
                      started.set_value();
                      for (int step = 0; step < 100000; ++step) {
                        c.progress(step, 100000, 0);
                        gen::check_cancel(c.cancel);
                        std::this_thread::sleep_for(std::chrono::milliseconds(1));
                      }
                      record.add("optimise finished");
                    }});
  worker.submit(named("edit", false, "edit", record));
  started.get_future().wait();
  EXPECT_EQ(worker.progress().kind, "optimise");
  worker.cancel();
  wait_idle(worker);
  EXPECT_TRUE(record.get().empty());
  std::lock_guard lock(mutex);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_TRUE(outcomes[0].cancelled);
  EXPECT_EQ(outcomes[0].error, "optimise: cancelled");
  EXPECT_EQ(worker.progress().kind, "");
}

}  // namespace
}  // namespace hdv::app
