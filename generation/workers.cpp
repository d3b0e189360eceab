// Work items on several workers (see workers.h).
#include "generation/workers.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

namespace hdv::gen {

std::vector<Pipeline> load_pipelines(const PipelineOptions& options, int workers) {
  std::vector<Pipeline> pipelines;
  pipelines.reserve(static_cast<size_t>(std::max(1, workers)));
  for (int w = 0; w < std::max(1, workers); ++w) pipelines.emplace_back(options);
  return pipelines;
}

int threads_per_worker(int workers) { return std::max(1, torch::get_num_threads() / std::max(1, workers)); }

void run_on_workers(int workers, int64_t count, const std::function<void(int, int64_t)>& work) {
  if (workers <= 1) {
    for (int64_t i = 0; i < count; ++i) work(0, i);
    return;
  }
  const int threads = threads_per_worker(workers);
  std::atomic<int64_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&](int w) {
    try {
      torch::set_num_threads(threads);  // per thread under OpenMP
      for (int64_t i = next++; i < count && !stop; i = next++) work(w, i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      stop = true;
    }
  };
  std::vector<std::thread> threads_of;
  for (int w = 0; w < workers; ++w) threads_of.emplace_back(worker, w);
  for (std::thread& t : threads_of) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace hdv::gen
