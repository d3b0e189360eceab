// Tests for generation/workers.h: every item runs once, on one of the pipelines; with several
// pipelines each worker uses its own and threads / workers CPU threads; the first error is
// rethrown and no new item starts after it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "generation/pipeline.h"
#include "generation/workers.h"
#include "tests/core/test_support.h"
#include "tests/generation/tiny_models.h"

namespace hdv::gen {
namespace {

TEST(Workers, EveryItemRunsOnceAndEachWorkerOnItsOwnPipelineAndThreads) {
  test::TempDir dir;
  std::vector<Pipeline> pipelines = load_pipelines(write_tiny_models(dir), 2);
  ASSERT_EQ(pipelines.size(), 2u);
  const ScopedThreads four_threads(4);
  EXPECT_EQ(threads_per_worker(2), 2);
  EXPECT_EQ(threads_per_worker(8), 1);
  std::mutex mutex;
  std::vector<int> runs(40, 0);
  std::set<const Pipeline*> used;
  std::set<int> thread_counts;
  for_each_on_workers(pipelines, 40, [&](Pipeline& pipeline, int64_t i) {
    std::lock_guard<std::mutex> lock(mutex);
    ++runs[size_t(i)];
    used.insert(&pipeline);
    thread_counts.insert(torch::get_num_threads());
  });
  EXPECT_EQ(runs, std::vector<int>(40, 1));
  for (const Pipeline* p : used) EXPECT_TRUE(p == &pipelines[0] || p == &pipelines[1]);
  EXPECT_EQ(thread_counts, std::set<int>{2});
}

TEST(Workers, OnePipelineRunsTheItemsInOrderOnTheCallersThread) {
  test::TempDir dir;
  std::vector<Pipeline> pipelines = load_pipelines(write_tiny_models(dir), 1);
  std::vector<int64_t> order;
  const std::thread::id caller = std::this_thread::get_id();
  for_each_on_workers(pipelines, 5, [&](Pipeline&, int64_t i) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    order.push_back(i);
  });
  EXPECT_EQ(order, (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(Workers, TheFirstErrorIsRethrownAndNoNewItemStartsAfterIt) {
  test::TempDir dir;
  const PipelineOptions options = write_tiny_models(dir);
  for (int workers : {1, 2}) {
    std::vector<Pipeline> pipelines = load_pipelines(options, workers);
    std::mutex mutex;
    int64_t started = 0;
    EXPECT_EQ(test::error_text<std::runtime_error>([&] {
                for_each_on_workers(pipelines, 1000, [&](Pipeline&, int64_t i) {
                  {
                    std::lock_guard<std::mutex> lock(mutex);
                    ++started;
                  }
                  if (i == 3) throw std::runtime_error("item 3 failed");
                  std::this_thread::sleep_for(std::chrono::milliseconds(10));
                });
              }),
              "item 3 failed")
        << workers;
    // Items 0-3 and at most the one the other worker was busy with (items take 10 ms, the
    // stop takes microseconds); never the rest of the list.
    EXPECT_GE(started, 4) << workers;
    EXPECT_LE(started, workers == 1 ? 4 : 6) << workers;
  }
}

}  // namespace
}  // namespace hdv::gen
