// Work items side by side on several copies of the models. Many of the slow tools are long lists
// of small independent jobs (a batch of hdvila-generate jobs, the edits of edit-eval, the images
// of sr-eval, the channels of a direction table), and on a CPU those scale far better across jobs
// than across the threads of one op. Each worker owns one copy of the models and runs its items
// with threads / workers CPU threads.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "generation/pipeline.h"

namespace hdv::gen {

// `workers` copies of the models, all loaded before any work starts (so a bad model file fails
// at once).
std::vector<Pipeline> load_pipelines(const PipelineOptions& options, int workers);

// The CPU threads each of `workers` workers gets: torch's thread count / workers, at least 1.
int threads_per_worker(int workers);

// Runs work(w, i) for i in [0, count) on `workers` workers w = 0, 1, ... Items are taken in order
// from a shared counter, each by the next free worker. With one worker the items run on the
// caller's thread; with several, each worker is a thread of its own with threads_per_worker() CPU
// threads. After the first exception (a Cancelled too) no new item starts, and it is rethrown once
// every worker has stopped. `work` must guard what the workers share.
void run_on_workers(int workers, int64_t count, const std::function<void(int, int64_t)>& work);

// The same with one resource per worker (`resources` is a vector or span of Pipelines, of
// generator and VL model pairs, ...): work(resources[w], i) runs item i on worker w.
template <class Resources, class Work>
void for_each_on_workers(Resources& resources, int64_t count, Work&& work) {
  run_on_workers(static_cast<int>(resources.size()), count,
                 [&](int worker, int64_t item) { work(resources[static_cast<size_t>(worker)], item); });
}

}  // namespace hdv::gen
