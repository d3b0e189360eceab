// The pre-training data loader: batches of sampled clips with tokenised captions, prefetched by
// worker threads, deterministic and resumable (docs/design.md §5 "Distributed", "Checkpoints").
//
// The stream of one rank is a sequence of positions. In training it is endless: epoch e's order
// (epoch_order: PyTorch DistributedSampler semantics, shuffled by (seed, e)), then epoch e+1's, ...
// Everything random about a sample — segment offsets, crop, which caption — comes from a seed
// mixed from (seed, epoch, position), and results are consumed in position order, so batches are
// the same for any worker count and after a resume from a Batch's position. Evaluation is one
// pass over the rank's share in dataset order, first captions, centred sampling. With group_size
// set, training orders come from grouped_epoch_order (hard_negatives.h) instead.
//
// A clip that fails to sample (missing or corrupt video: core::IoError / core::FormatError) is
// skipped — logged, counted, and the batch filled from the next positions — never fatal to a long
// run, unless more than max_skip_rate of the clips fail (then next() throws, naming the last one).
// Reference for the skip-don't-die policy: microsoft/XPretrain hd-vila dataset_pretrain.py
// __getitem__ (which retries with a random replacement; ours stays deterministic).
#pragma once

#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "models/tokenizer.h"
#include "training/clip_sampler.h"
#include "training/dataset.h"
#include "training/hard_negatives.h"

namespace hdv::train {

struct LoaderConfig {
  int batch_size = 8;            // clips per batch on this rank
  int workers = 2;               // decoding threads (0: decode in next(), on the caller's thread)
  int queue_depth = 8;           // samples decoded ahead of the consumer (at least `workers`)
  double max_skip_rate = 0.01;   // fraction of clips that may fail before next() throws
  int64_t min_attempts = 100;    // clips attempted before max_skip_rate is enforced
  bool shuffle = true;           // training: a new order every epoch
  int group_size = 0;            // training: batches made of groups of this many clips sharing the primary
                                 // object's class + colour (background where possible), differing in
                                 // texture or motion (SynthVid labels; hard_negatives.h); 0 = off. Must
                                 // divide batch_size

  template <class V>
  void fields(V& v) {
    v("batch_size", batch_size);
    v("workers", workers);
    v("queue_depth", queue_depth);
    v("max_skip_rate", max_skip_rate);
    v("min_attempts", min_attempts);
    v("shuffle", shuffle);
    v("group_size", group_size);
  }
  // Throws core::ConfigError naming the field.
  void validate() const;
};

struct LoaderPosition {
  int64_t epoch = 0;   // training epoch (always 0 in evaluation)
  int64_t cursor = 0;  // positions of this rank's epoch order consumed
};

struct Batch {
  at::Tensor keyframes;                // [B, S, 3, H, W] float in [-1, 1]
  at::Tensor neighbours;               // [B, S, T-1, 3, h, w] float in [-1, 1]
  at::Tensor input_ids;                // [B, L] int64 (Tokenizer::encode_for_model(text, max_text_len))
  at::Tensor attention_mask;           // [B, L] int64
  std::vector<int64_t> clip_indices;   // dataset indices of the B clips
  std::vector<std::string> texts;      // the caption each clip was paired with
  LoaderPosition position;             // stream position after this batch (what a checkpoint stores)
};

// This rank's positions of one epoch: PyTorch DistributedSampler semantics. The permutation of
// [0, N) is torch.randperm(N) from a CPU generator seeded with seed + epoch (the same order as
// Python's DistributedSampler with that seed), or [0, N) without shuffle; it is padded by wrapping
// to a multiple of world, and rank r takes positions r, r + world, ... (ceil(N / world) of them).
std::vector<int64_t> epoch_order(int64_t dataset_size, uint64_t seed, int64_t epoch, int rank, int world, bool shuffle);

class ClipLoader {
 public:
  // `dataset` and `tokenizer` must outlive the loader (both are read by the workers).
  // train=true: the endless epoch stream from `start`; train=false: one pass over
  // rank, rank + world, ... < N (no padding, no shuffle), next() returns std::nullopt at the end
  // (the last, partial batch included). Throws core::ConfigError for a bad config, rank or world
  // and core::Error for an empty dataset or a start position outside the stream.
  ClipLoader(const Dataset& dataset, ClipSampler sampler, const models::Tokenizer& tokenizer, int max_text_len,
             LoaderConfig config, uint64_t seed, int rank, int world, bool train, LoaderPosition start = {});
  // Stops and joins the workers (after their current clip), also mid-epoch or after an error.
  ~ClipLoader();
  ClipLoader(const ClipLoader&) = delete;
  ClipLoader& operator=(const ClipLoader&) = delete;

  // The next batch (call from one thread; the workers are internal). Rethrows a worker's error that is not a per-clip failure; throws core::Error
  // when too many clips fail ("skipped 3 of 120 clips (2.5%), more than the allowed 1.0%
  // (--max-skip-rate); last: <path>: <reason>"). After a throw the loader is spent: later calls
  // throw the same error.
  std::optional<Batch> next();

  struct Stats {
    int64_t attempted = 0;      // clips consumed so far (sampled or skipped)
    int64_t skipped = 0;        // of those, clips that failed to sample
    double wait_seconds = 0;    // time next() spent blocked on data
  };
  Stats stats() const;

  // Positions per epoch of this rank (training) or in the pass (evaluation).
  int64_t positions_per_epoch() const { return epoch_length_; }

 private:
  struct Place {
    int64_t epoch = 0;
    int64_t cursor = 0;
  };
  // One position of the stream, sampled or failed.
  struct Item {
    Place place;
    int64_t clip_index = 0;
    std::optional<ClipSample> sample;  // set when the clip sampled
    models::Encoding encoding;
    std::string text;
    std::string failure;               // per-clip failure: "<path>: <reason>"
    std::exception_ptr fatal;          // any other error, rethrown by next()
  };

  Place place_of(int64_t sequence) const;
  std::shared_ptr<const std::vector<int64_t>> order_for(int64_t epoch);
  Item produce(int64_t sequence);
  Item take(int64_t sequence);
  void worker_loop();
  void stop_workers();

  const Dataset& dataset_;
  ClipSampler sampler_;
  const models::Tokenizer& tokenizer_;
  int max_text_len_;
  LoaderConfig config_;
  uint64_t seed_;
  int rank_;
  int world_;
  bool train_;
  LoaderPosition start_;
  int64_t epoch_length_ = 0;        // positions per epoch (train) or in the pass (eval)
  int64_t end_sequence_ = 0;        // eval: sequences in the pass; train: unbounded
  int64_t window_ = 0;              // sequences claimed ahead of the consumer

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;    // workers wait for room in the window
  std::condition_variable result_ready_;  // the consumer waits for its next sequence
  std::map<int64_t, Item> results_;       // finished sequences not yet consumed
  int64_t next_claim_ = 0;                // next sequence a worker takes
  int64_t next_consume_ = 0;              // next sequence the consumer takes
  bool stopping_ = false;
  Stats stats_;
  std::string last_skip_;                 // "<path>: <reason>" of the last skipped clip
  int64_t consecutive_skips_ = 0;
  std::exception_ptr failed_;             // set once next() has thrown
  bool finished_ = false;
  std::vector<std::thread> workers_;

  std::vector<ClipGroupKey> group_keys_;  // per clip, when config_.group_size > 0 (training)
  std::mutex orders_mutex_;  // guards orders_ (computing an order never blocks the consumer)
  std::map<int64_t, std::shared_ptr<const std::vector<int64_t>>> orders_;  // epoch -> order (train)
};

}  // namespace hdv::train
