// The prefetching, deterministic, resumable clip loader (see loader.h; docs/design.md §5).
//
// Worker threads claim stream positions in order (at most `window_` ahead of the consumer), sample
// them and park the results in a map; next() takes them back in position order. Per-clip failures
// are accounted on the consumer side, in order, so the skip counters and the threshold error do not
// depend on thread timing either.
#include "training/loader.h"

#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include <fmt/format.h>

#include "core/error.h"
#include "core/log.h"

namespace hdv::train {
namespace {

// SplitMix64's finaliser: spreads every input bit over the output.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// The seed of the sample at `global_position` of `epoch`'s order (positions of all ranks).
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t global_position) {
  return mix(mix(mix(seed) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(global_position));
}

// Caption choice draws from its own stream of the sample seed.
constexpr uint64_t kCaptionStream = 0x165667B19E3779F9ULL;

// "<path>: no such file" -> "no such file": the skip message names the path once.
std::string reason_of(const std::exception& error, const std::string& path) {
  std::string what = error.what();
  const std::string prefix = path + ": ";
  return what.compare(0, prefix.size(), prefix) == 0 ? what.substr(prefix.size()) : what;
}

}  // namespace

void LoaderConfig::validate() const {
  auto fail = [](const std::string& message) { throw core::ConfigError("loader config: " + message); };
  if (batch_size < 1) fail(fmt::format("batch_size={} must be >= 1", batch_size));
  if (workers < 0) fail(fmt::format("workers={} must be >= 0", workers));
  if (queue_depth < 1) fail(fmt::format("queue_depth={} must be >= 1", queue_depth));
  if (!(max_skip_rate >= 0 && max_skip_rate <= 1)) fail(fmt::format("max_skip_rate={} must be in [0, 1]", max_skip_rate));
  if (min_attempts < 0) fail(fmt::format("min_attempts={} must be >= 0", min_attempts));
  if (group_size < 0 || group_size == 1) fail(fmt::format("group_size={} must be 0 (off) or >= 2", group_size));
  if (group_size > 0 && batch_size % group_size != 0) {
    fail(fmt::format("batch_size={} must be a multiple of group_size={}", batch_size, group_size));
  }
}

std::vector<int64_t> epoch_order(int64_t dataset_size, uint64_t seed, int64_t epoch, int rank, int world, bool shuffle) {
  if (world < 1 || rank < 0 || rank >= world) {
    throw core::ConfigError(fmt::format("epoch_order: rank={} must be in [0, world={})", rank, world));
  }
  if (dataset_size < 0) throw core::Error(fmt::format("epoch_order: dataset_size={} must be >= 0", dataset_size));
  if (dataset_size == 0) return {};
  at::Tensor permutation;
  if (shuffle) {
    // torch.Generator().manual_seed(seed + epoch); torch.randperm(n, generator=g)
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed + static_cast<uint64_t>(epoch));
    permutation = at::randperm(dataset_size, generator, torch::kInt64);
  } else {
    permutation = torch::arange(dataset_size, torch::kInt64);
  }
  const int64_t* all = permutation.data_ptr<int64_t>();
  const int64_t per_rank = (dataset_size + world - 1) / world;
  std::vector<int64_t> order;
  order.reserve(static_cast<size_t>(per_rank));
  for (int64_t k = 0; k < per_rank; ++k) {
    order.push_back(all[(rank + k * world) % dataset_size]);  // padding wraps around to the start
  }
  return order;
}

ClipLoader::ClipLoader(const Dataset& dataset, ClipSampler sampler, const models::Tokenizer& tokenizer,
                       int max_text_len, LoaderConfig config, uint64_t seed, int rank, int world, bool train,
                       LoaderPosition start)
    : dataset_(dataset),
      sampler_(std::move(sampler)),
      tokenizer_(tokenizer),
      max_text_len_(max_text_len),
      config_(config),
      seed_(seed),
      rank_(rank),
      world_(world),
      train_(train),
      start_(start) {
  config_.validate();
  if (world < 1 || rank < 0 || rank >= world) {
    throw core::ConfigError(fmt::format("loader: rank={} must be in [0, world={})", rank, world));
  }
  if (max_text_len < 2) {
    throw core::ConfigError(fmt::format("loader: max_text_len={} must be >= 2 (room for [CLS] and [SEP])", max_text_len));
  }
  const auto size = static_cast<int64_t>(dataset.clips.size());
  if (size == 0) throw core::Error(fmt::format("loader: the dataset ({}) has no clips", dataset.root.string()));
  const bool grouped = train && config_.group_size > 0;
  if (grouped) {
    group_keys_ = clip_group_keys(dataset);
    if (std::all_of(group_keys_.begin(), group_keys_.end(), [](const ClipGroupKey& k) { return k.group < 0; })) {
      throw core::ConfigError(fmt::format("loader config: group_size={} needs SynthVid labels (labels.jsonl), but the "
                                          "dataset ({}) has none",
                                          config_.group_size, dataset.root.string()));
    }
  }
  if (grouped) {
    epoch_length_ = grouped_epoch_length(size, world, config_.group_size);
    end_sequence_ = std::numeric_limits<int64_t>::max();
  } else if (train) {
    epoch_length_ = (size + world - 1) / world;
    end_sequence_ = std::numeric_limits<int64_t>::max();
  } else {
    epoch_length_ = rank < size ? (size - rank + world - 1) / world : 0;
  }
  if (start.epoch < 0 || (!train && start.epoch != 0) || start.cursor < 0 || start.cursor > epoch_length_) {
    throw core::Error(fmt::format("loader: start position epoch {} cursor {} is outside the stream ({} positions per {})",
                                  start.epoch, start.cursor, epoch_length_, train ? "epoch" : "pass"));
  }
  if (!train) end_sequence_ = epoch_length_ - start.cursor;
  window_ = std::max<int64_t>(config_.queue_depth, config_.workers);
  workers_.reserve(static_cast<size_t>(config_.workers));
  try {
    for (int i = 0; i < config_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
  } catch (...) {  // no destructor runs for a half-built object: join the threads already started
    stop_workers();
    throw;
  }
}

ClipLoader::~ClipLoader() { stop_workers(); }

void ClipLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

ClipLoader::Place ClipLoader::place_of(int64_t sequence) const {
  if (!train_) return {0, start_.cursor + sequence};
  const int64_t global = start_.cursor + sequence;
  return {start_.epoch + global / epoch_length_, global % epoch_length_};
}

std::shared_ptr<const std::vector<int64_t>> ClipLoader::order_for(int64_t epoch) {
  std::lock_guard<std::mutex> lock(orders_mutex_);
  auto it = orders_.find(epoch);
  if (it != orders_.end()) return it->second;
  auto order = std::make_shared<const std::vector<int64_t>>(
      group_keys_.empty()
          ? epoch_order(static_cast<int64_t>(dataset_.clips.size()), seed_, epoch, rank_, world_, config_.shuffle)
          : grouped_epoch_order(group_keys_, seed_, epoch, rank_, world_, config_.group_size));
  orders_[epoch] = order;
  // Keep the few epochs the prefetch window can span; an evicted one is recomputed identically.
  while (orders_.size() > 4) orders_.erase(orders_.begin());
  return order;
}

ClipLoader::Item ClipLoader::produce(int64_t sequence) {
  Item item;
  item.place = place_of(sequence);
  uint64_t seed = 0;
  if (train_) {
    item.clip_index = (*order_for(item.place.epoch))[static_cast<size_t>(item.place.cursor)];
    seed = sample_seed(seed_, item.place.epoch, item.place.cursor * world_ + rank_);
  } else {
    item.clip_index = rank_ + item.place.cursor * world_;
  }
  const ClipRecord& clip = dataset_.clips[static_cast<size_t>(item.clip_index)];
  const std::string path = clip.video.string();
  if (clip.texts.empty()) {
    item.failure = fmt::format("{}: clip \"{}\" has no caption", path, clip.clip_id);
    return item;
  }
  item.text = train_ ? clip.texts[mix(seed ^ kCaptionStream) % clip.texts.size()] : clip.texts[0];
  try {
    item.encoding = tokenizer_.encode_for_model(item.text, max_text_len_);
  } catch (const core::FormatError& e) {  // e.g. a caption that is not UTF-8
    item.failure = fmt::format("{}: caption of clip \"{}\": {}", path, clip.clip_id, e.what());
    return item;
  }
  try {
    item.sample = sampler_.sample(clip, seed, train_);
  } catch (const core::IoError& e) {
    item.failure = fmt::format("{}: {}", path, reason_of(e, path));
  } catch (const core::FormatError& e) {
    item.failure = fmt::format("{}: {}", path, reason_of(e, path));
  }
  return item;
}

void ClipLoader::worker_loop() {
  for (;;) {
    int64_t sequence;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_ready_.wait(lock, [&] {
        return stopping_ || (next_claim_ < end_sequence_ && next_claim_ - next_consume_ < window_);
      });
      if (stopping_) return;
      sequence = next_claim_++;
    }
    Item item;
    try {
      item = produce(sequence);
    } catch (...) {  // not a per-clip failure: next() rethrows it when it reaches this position
      item.fatal = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      results_.emplace(sequence, std::move(item));
    }
    result_ready_.notify_all();
  }
}

ClipLoader::Item ClipLoader::take(int64_t sequence) {
  const auto begin = std::chrono::steady_clock::now();
  auto seconds_since = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  };
  if (workers_.empty()) {
    Item item = produce(sequence);
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.wait_seconds += seconds_since();
    next_consume_ = sequence + 1;
    return item;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  result_ready_.wait(lock, [&] { return results_.count(sequence) > 0; });
  stats_.wait_seconds += seconds_since();
  auto node = results_.extract(sequence);
  next_consume_ = sequence + 1;
  lock.unlock();
  work_ready_.notify_all();
  return std::move(node.mapped());
}

std::optional<Batch> ClipLoader::next() {
  if (failed_) std::rethrow_exception(failed_);
  if (finished_) return std::nullopt;
  try {
    std::vector<Item> items;
    items.reserve(static_cast<size_t>(config_.batch_size));
    while (static_cast<int>(items.size()) < config_.batch_size && next_consume_ < end_sequence_) {
      Item item = take(next_consume_);
      if (item.fatal) std::rethrow_exception(item.fatal);
      Stats stats;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++stats_.attempted;
        if (!item.sample) ++stats_.skipped;
        stats = stats_;
      }
      if (item.sample) {
        consecutive_skips_ = 0;
        items.push_back(std::move(item));
      } else {
        ++consecutive_skips_;
        last_skip_ = item.failure;
        core::log_warning("skipped clip \"{}\": {}", dataset_.clips[static_cast<size_t>(item.clip_index)].clip_id,
                          item.failure);
      }
      if (stats.attempted >= config_.min_attempts &&
          static_cast<double>(stats.skipped) > config_.max_skip_rate * static_cast<double>(stats.attempted)) {
        throw core::Error(fmt::format("skipped {} of {} clips ({:.1f}%), more than the allowed {:.1f}% (--max-skip-rate); last: {}",
                                      stats.skipped, stats.attempted, 100.0 * double(stats.skipped) / double(stats.attempted),
                                      100.0 * config_.max_skip_rate, last_skip_));
      }
      if (train_ && consecutive_skips_ >= epoch_length_) {
        throw core::Error(fmt::format("every clip of a whole epoch failed to load ({} in a row); last: {}",
                                      consecutive_skips_, last_skip_));
      }
    }
    if (items.empty()) {
      finished_ = true;
      return std::nullopt;
    }

    Batch batch;
    std::vector<at::Tensor> keyframes, neighbours;
    std::vector<int64_t> ids, mask;
    for (Item& item : items) {
      keyframes.push_back(item.sample->keyframes);
      neighbours.push_back(item.sample->neighbours);
      ids.insert(ids.end(), item.encoding.input_ids.begin(), item.encoding.input_ids.end());
      mask.insert(mask.end(), item.encoding.attention_mask.begin(), item.encoding.attention_mask.end());
      batch.clip_indices.push_back(item.clip_index);
      batch.texts.push_back(std::move(item.text));
    }
    const auto rows = static_cast<int64_t>(items.size());
    batch.keyframes = torch::stack(keyframes);
    batch.neighbours = torch::stack(neighbours);
    batch.input_ids = torch::tensor(ids, torch::kInt64).view({rows, max_text_len_});
    batch.attention_mask = torch::tensor(mask, torch::kInt64).view({rows, max_text_len_});
    const Place after = place_of(next_consume_);
    batch.position = {after.epoch, after.cursor};
    return batch;
  } catch (...) {
    failed_ = std::current_exception();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;  // no more prefetching; the destructor joins
    }
    work_ready_.notify_all();
    throw;
  }
}

ClipLoader::Stats ClipLoader::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace hdv::train
