// Tests for training/loader.h: epoch orders (PyTorch DistributedSampler parity, rank partitions,
// per-epoch reshuffles), and the ClipLoader on small videos written by the test: identical batches
// for any worker count, resume from a batch's position, missing and corrupt videos skipped and
// counted, the skip-rate error, evaluation passes, and clean shutdown.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "core/video_io.h"
#include "tests/core/test_support.h"
#include "training/loader.h"

namespace hdv::train {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using Indices = std::vector<int64_t>;

constexpr int kMaxTextLen = 8;

void write_grey_video(const fs::path& path, int frames) {
  core::VideoWriter writer(path, 24, 64, 48);
  for (int i = 0; i < frames; ++i) writer.write(torch::full({3, 48, 64}, (16.0 + 6.0 * i) / 127.5 - 1.0));
  writer.close();
}

models::Tokenizer test_tokenizer() {
  return models::Tokenizer(
      std::vector<std::string>{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "the", "red", "blue", "ball", "cat", "dog"},
      models::TokenizerConfig{}, "test vocabulary");
}

// `count` clips over two real videos (every third one a span of the first), captions from a small
// pool, clip 0 with three captions. Clips listed in `broken` point to a missing file (even index)
// or to garbage bytes (odd index).
Dataset make_dataset(const TempDir& dir, int count, const std::set<int>& broken = {}) {
  write_grey_video(dir / "a.mp4", 40);
  write_grey_video(dir / "b.mp4", 30);
  test::write_bytes(dir / "garbage.mp4", std::string(4096, '\x5a'));
  const std::vector<std::string> captions = {"a red ball", "the blue cat", "a dog", "the red dog", "a blue ball"};
  Dataset dataset;
  dataset.format = "test";
  dataset.root = dir.path();
  for (int i = 0; i < count; ++i) {
    ClipRecord clip;
    clip.clip_id = "c" + std::to_string(i);
    clip.video_id = i % 2 ? "b" : "a";
    clip.video = dir / (i % 2 ? "b.mp4" : "a.mp4");
    if (i % 3 == 2) {
      clip.video = dir / "a.mp4";
      clip.span = core::parse_time_span("00:00:00.250-00:00:01.500");
    }
    if (broken.count(i)) clip.video = i % 2 ? dir / "garbage.mp4" : dir / ("missing" + std::to_string(i) + ".mp4");
    clip.texts = {captions[static_cast<size_t>(i) % captions.size()]};
    if (i == 0) clip.texts = {"a red ball", "the red ball", "a ball"};
    dataset.clips.push_back(clip);
  }
  return dataset;
}

ClipSampler test_sampler() {
  ClipSamplerConfig config;
  config.segments = 2;
  config.frames = 3;
  config.sample_rate = 2;
  config.frame_height = 48;
  config.frame_width = 64;
  config.crop_height = 16;
  config.crop_width = 32;
  return ClipSampler(config);
}

LoaderConfig loader_config(int batch_size, int workers) {
  LoaderConfig config;
  config.batch_size = batch_size;
  config.workers = workers;
  config.queue_depth = 4;
  return config;
}

std::vector<Batch> take_batches(ClipLoader& loader, int count) {
  std::vector<Batch> batches;
  for (int i = 0; i < count; ++i) {
    std::optional<Batch> batch = loader.next();
    if (!batch) break;
    batches.push_back(std::move(*batch));
  }
  return batches;
}

void expect_same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("batch " + std::to_string(i));
    EXPECT_EQ(a[i].clip_indices, b[i].clip_indices);
    EXPECT_EQ(a[i].texts, b[i].texts);
    EXPECT_EQ(a[i].position.epoch, b[i].position.epoch);
    EXPECT_EQ(a[i].position.cursor, b[i].position.cursor);
    EXPECT_TRUE(torch::equal(a[i].keyframes, b[i].keyframes));
    EXPECT_TRUE(torch::equal(a[i].neighbours, b[i].neighbours));
    EXPECT_TRUE(torch::equal(a[i].input_ids, b[i].input_ids));
    EXPECT_TRUE(torch::equal(a[i].attention_mask, b[i].attention_mask));
  }
}

// Collects warning lines while alive.
class WarningCapture {
 public:
  WarningCapture() {
    core::set_log_sink([this](core::LogLevel level, std::string_view message) {
      if (level != core::LogLevel::Warning) return;
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.emplace_back(message);
    });
  }
  ~WarningCapture() { core::set_log_sink({}); }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

TEST(LoaderEpochOrder, MatchesPyTorchDistributedSampler) {
  // python: g = torch.Generator(); g.manual_seed(7 + 3); torch.randperm(10, generator=g).tolist()
  EXPECT_EQ(epoch_order(10, 7, 3, 0, 1, true), (Indices{7, 4, 6, 1, 3, 5, 9, 8, 2, 0}));
  // python: s = DistributedSampler(range(10), num_replicas=4, rank=1, seed=7); s.set_epoch(3); list(s)
  EXPECT_EQ(epoch_order(10, 7, 3, 1, 4, true), (Indices{4, 5, 0}));
  // python: DistributedSampler(range(3), num_replicas=8, rank=6, shuffle=False): padding repeats the list
  EXPECT_EQ(epoch_order(3, 7, 3, 6, 8, false), (Indices{0}));
  EXPECT_EQ(epoch_order(5, 0, 0, 1, 2, false), (Indices{1, 3, 0}));
}

TEST(LoaderEpochOrder, RanksPartitionTheEpochAndEpochsReshuffle) {
  std::vector<int64_t> all;
  for (int rank = 0; rank < 3; ++rank) {
    Indices order = epoch_order(10, 5, 2, rank, 3, true);
    EXPECT_EQ(order.size(), 4u);
    all.insert(all.end(), order.begin(), order.end());
  }
  std::sort(all.begin(), all.end());
  // 12 positions: every clip once, and two (the first two of the permutation) twice as padding.
  EXPECT_EQ(std::set<int64_t>(all.begin(), all.end()).size(), 10u);
  EXPECT_EQ(all.size(), 12u);
  Indices full = epoch_order(10, 5, 2, 0, 1, true);
  EXPECT_EQ(std::count(all.begin(), all.end(), full[0]), 2);
  EXPECT_EQ(std::count(all.begin(), all.end(), full[1]), 2);

  EXPECT_EQ(epoch_order(100, 5, 2, 1, 3, true), epoch_order(100, 5, 2, 1, 3, true));
  EXPECT_NE(epoch_order(100, 5, 2, 1, 3, true), epoch_order(100, 5, 3, 1, 3, true));
  EXPECT_NE(epoch_order(100, 5, 2, 1, 3, true), epoch_order(100, 6, 2, 1, 3, true));
  EXPECT_EQ(test::error_text<core::ConfigError>([] { epoch_order(10, 0, 0, 3, 3, true); }),
            "epoch_order: rank=3 must be in [0, world=3)");
}

TEST(Loader, SameBatchesForAnyWorkerCount) {
  TempDir dir;
  const Dataset dataset = make_dataset(dir, 10);
  const models::Tokenizer tokenizer = test_tokenizer();
  std::vector<Batch> reference;
  {
    ClipLoader loader(dataset, test_sampler(), tokenizer, kMaxTextLen, loader_config(4, 1), 11, 0, 1, true);
    reference = take_batches(loader, 6);
  }
  ASSERT_EQ(reference.size(), 6u);
  // Positions after each batch: 10 clips per epoch, batches run across epoch ends.
  const std::vector<std::pair<int64_t, int64_t>> positions = {{0, 4}, {0, 8}, {1, 2}, {1, 6}, {2, 0}, {2, 4}};
  for (size_t i = 0; i < reference.size(); ++i) {
    EXPECT_EQ(std::make_pair(reference[i].position.epoch, reference[i].position.cursor), positions[i]) << "batch " << i;
  }
  // The first epoch is epoch_order's permutation.
  Indices first_epoch;
  for (int i = 0; i < 3; ++i) first_epoch.insert(first_epoch.end(), reference[i].clip_indices.begin(), reference[i].clip_indices.end());
  first_epoch.resize(10);
  EXPECT_EQ(first_epoch, epoch_order(10, 11, 0, 0, 1, true));

  const Batch& batch = reference[0];
  EXPECT_EQ(batch.keyframes.sizes(), (std::vector<int64_t>{4, 2, 3, 16, 32}));
  EXPECT_EQ(batch.neighbours.sizes(), (std::vector<int64_t>{4, 2, 2, 3, 4, 8}));
  EXPECT_EQ(batch.input_ids.sizes(), (std::vector<int64_t>{4, kMaxTextLen}));
  EXPECT_EQ(batch.input_ids.scalar_type(), torch::kInt64);
  for (int64_t i = 0; i < 4; ++i) {
    const models::Encoding encoding = tokenizer.encode_for_model(batch.texts[i], kMaxTextLen);
    EXPECT_EQ(Indices(batch.input_ids[i].data_ptr<int64_t>(), batch.input_ids[i].data_ptr<int64_t>() + kMaxTextLen),
              encoding.input_ids);
    EXPECT_EQ(Indices(batch.attention_mask[i].data_ptr<int64_t>(), batch.attention_mask[i].data_ptr<int64_t>() + kMaxTextLen),
              encoding.attention_mask);
    const auto& texts = dataset.clips[batch.clip_indices[i]].texts;
    EXPECT_NE(std::find(texts.begin(), texts.end(), batch.texts[i]), texts.end());
  }

  for (int workers : {0, 3}) {
    SCOPED_TRACE("workers " + std::to_string(workers));
    ClipLoader loader(dataset, test_sampler(), tokenizer, kMaxTextLen, loader_config(4, workers), 11, 0, 1, true);
    expect_same_batches(take_batches(loader, 6), reference);
  }
}

TEST(Loader, ResumeFromABatchPositionReproducesTheFollowingBatches) {
  TempDir dir;
  const Dataset dataset = make_dataset(dir, 7);
  const models::Tokenizer tokenizer = test_tokenizer();
  ClipLoader full(dataset, test_sampler(), tokenizer, kMaxTextLen, loader_config(3, 2), 5, 1, 2, true);
  std::vector<Batch> batches = take_batches(full, 6);
  ASSERT_EQ(batches.size(), 6u);
  for (int at : {1, 2}) {  // after (1, 2): mid-epoch of rank 1's 4 positions; after (2, 1)
    SCOPED_TRACE("resume after batch " + std::to_string(at));
    ClipLoader resumed(dataset, test_sampler(), tokenizer, kMaxTextLen, loader_config(3, 3), 5, 1, 2, true,
                       batches[static_cast<size_t>(at)].position);
    std::vector<Batch> rest = take_batches(resumed, 5 - at);
    expect_same_batches(rest, std::vector<Batch>(batches.begin() + at + 1, batches.end()));
  }
  EXPECT_EQ(batches[2].position.epoch, 2);
  EXPECT_EQ(batches[2].position.cursor, 1);
}

TEST(Loader, TrainCaptionsVaryAcrossEpochs) {
  TempDir dir;
  const Dataset dataset = make_dataset(dir, 2);
  const models::Tokenizer tokenizer = test_tokenizer();
  LoaderConfig config = loader_config(2, 1);
  ClipLoader loader(dataset, test_sampler(), tokenizer, kMaxTextLen, config, 3, 0, 1, true);
  std::set<std::string> captions_of_clip0;
  for (const Batch& batch : take_batches(loader, 24)) {
    for (size_t i = 0; i < batch.clip_indices.size(); ++i) {
      if (batch.clip_indices[i] == 0) captions_of_clip0.insert(batch.texts[i]);
    }
  }
  EXPECT_EQ(captions_of_clip0, (std::set<std::string>{"a red ball", "the red ball", "a ball"}));
}

TEST(Loader, EvalIsOnePassOverTheRankShareInOrder) {
  TempDir dir;
  const Dataset dataset = make_dataset(dir, 5);
  const models::Tokenizer tokenizer = test_tokenizer();
  ClipLoader loader(dataset, test_sampler(), tokenizer, kMaxTextLen, loader_config(4, 2), 9, 1, 2, false);
  EXPECT_EQ(loader.positions_per_epoch(), 2);
  std::optional<Batch> batch = loader.next();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->clip_indices, (Indices{1, 3}));  // rank 1 of 2: clips 1 and 3, no padding
  EXPECT_EQ(batch->texts, (std::vector<std::string>{"the blue cat", "the red dog"}));
  EXPECT_EQ(batch->position.cursor, 2);
  ClipSample expected = test_sampler().sample(dataset.clips[3], 0, false);  // centred sampling
  EXPECT_TRUE(torch::equal(batch->keyframes[1], expected.keyframes));
  EXPECT_FALSE(loader.next().has_value());
  EXPECT_FALSE(loader.next().has_value());

  // Rank 0 holds clips 0, 2, 4: batches of 2 end with a partial one.
  ClipLoader rank0(dataset, test_sampler(), tokenizer, kMaxTextLen, loader_config(2, 0), 9, 0, 2, false);
  std::vector<Batch> batches = take_batches(rank0, 5);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].clip_indices, (Indices{0, 2}));
  EXPECT_EQ(batches[1].clip_indices, (Indices{4}));
  EXPECT_EQ(batches[0].texts[0], "a red ball");  // the first caption
}

TEST(Loader, MissingAndCorruptVideosAreSkippedAndCounted) {
  TempDir dir;
  const Dataset dataset = make_dataset(dir, 8, {2, 5});  // 2: missing file, 5: garbage bytes
  const models::Tokenizer tokenizer = test_tokenizer();
  LoaderConfig config = loader_config(4, 2);
  config.max_skip_rate = 0.5;
  config.min_attempts = 1;
  WarningCapture warnings;
  {
    ClipLoader loader(dataset, test_sampler(), tokenizer, kMaxTextLen, config, 1, 0, 1, false);
    std::vector<Batch> batches = take_batches(loader, 5);
    ASSERT_EQ(batches.size(), 2u);
    EXPECT_EQ(batches[0].clip_indices, (Indices{0, 1, 3, 4}));  // filled from the next positions
    EXPECT_EQ(batches[0].position.cursor, 5);
    EXPECT_EQ(batches[1].clip_indices, (Indices{6, 7}));
    EXPECT_EQ(batches[1].position.cursor, 8);
    EXPECT_EQ(loader.stats().attempted, 8);
    EXPECT_EQ(loader.stats().skipped, 2);
  }
  const std::vector<std::string> lines = warnings.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "skipped clip \"c2\": " + (dir / "missing2.mp4").string() + ": no such file");
  EXPECT_EQ(lines[1].rfind("skipped clip \"c5\": " + (dir / "garbage.mp4").string() + ": cannot decode video", 0), 0u) << lines[1];

  // Training: skips are filled deterministically, whatever the worker count.
  std::vector<Batch> reference;
  for (int workers : {1, 3}) {
    ClipLoader loader(dataset, test_sampler(), tokenizer, kMaxTextLen, loader_config(3, workers), 4, 0, 1, true);
    std::vector<Batch> batches = take_batches(loader, 5);
    EXPECT_EQ(loader.stats().attempted, 15 + loader.stats().skipped);
    for (const Batch& batch : batches) {
      for (int64_t index : batch.clip_indices) EXPECT_TRUE(index != 2 && index != 5);
    }
    if (reference.empty()) reference = std::move(batches);
    else expect_same_batches(batches, reference);
  }
}

TEST(Loader, TooManySkippedClipsIsAnError) {
  TempDir dir;
  const Dataset dataset = make_dataset(dir, 10, {1, 3});  // both garbage
  const models::Tokenizer tokenizer = test_tokenizer();
  LoaderConfig config = loader_config(8, 2);
  config.max_skip_rate = 0.2;
  config.min_attempts = 4;
  WarningCapture quiet;
  ClipLoader loader(dataset, test_sampler(), tokenizer, kMaxTextLen, config, 1, 0, 1, false);
  // Attempt 4 (clip 3) makes 2 of 4 skipped.
  const std::string message = test::error_text<core::Error>([&] { loader.next(); });
  const std::string expected_start = "skipped 2 of 4 clips (50.0%), more than the allowed 20.0% (--max-skip-rate); last: " +
                                     (dir / "garbage.mp4").string() + ": cannot decode video";
  EXPECT_EQ(message.rfind(expected_start, 0), 0u) << message;
  EXPECT_EQ(test::error_text<core::Error>([&] { loader.next(); }), message);  // the loader is spent

  // Below min_attempts the rate is not enforced yet.
  config.min_attempts = 100;
  ClipLoader lenient(dataset, test_sampler(), tokenizer, kMaxTextLen, config, 1, 0, 1, false);
  std::optional<Batch> batch = lenient.next();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->clip_indices, (Indices{0, 2, 4, 5, 6, 7, 8, 9}));
}

TEST(Loader, DestroyedEarlyStopsCleanly) {
  TempDir dir;
  const Dataset dataset = make_dataset(dir, 30, {4});
  const models::Tokenizer tokenizer = test_tokenizer();
  WarningCapture quiet;
  { ClipLoader unused(dataset, test_sampler(), tokenizer, kMaxTextLen, loader_config(4, 3), 1, 0, 1, true); }
  {
    ClipLoader loader(dataset, test_sampler(), tokenizer, kMaxTextLen, loader_config(4, 3), 1, 0, 1, true);
    ASSERT_TRUE(loader.next().has_value());
    EXPECT_GE(loader.stats().attempted, 4);
  }  // workers are mid-epoch, prefetching: joined here
  {
    LoaderConfig strict = loader_config(4, 3);
    strict.min_attempts = 1;
    strict.max_skip_rate = 0.0;
    ClipLoader loader(dataset, test_sampler(), tokenizer, kMaxTextLen, strict, 1, 0, 1, false);
    HDV_EXPECT_THROW_MSG(take_batches(loader, 10), core::Error, "skipped 1 of 5 clips (20.0%)");
  }  // destroyed after an error
  SUCCEED();
}

TEST(Loader, RejectsBadConfigurations) {
  TempDir dir;
  const Dataset dataset = make_dataset(dir, 3);
  const models::Tokenizer tokenizer = test_tokenizer();
  EXPECT_EQ(test::error_text<core::ConfigError>([&] {
              ClipLoader(dataset, test_sampler(), tokenizer, kMaxTextLen, loader_config(0, 1), 1, 0, 1, true);
            }),
            "loader config: batch_size=0 must be >= 1");
  LoaderConfig config = loader_config(2, 1);
  config.max_skip_rate = 1.5;
  EXPECT_EQ(test::error_text<core::ConfigError>([&] { config.validate(); }), "loader config: max_skip_rate=1.5 must be in [0, 1]");
  EXPECT_EQ(test::error_text<core::ConfigError>([&] {
              ClipLoader(dataset, test_sampler(), tokenizer, kMaxTextLen, loader_config(2, 1), 1, 2, 2, true);
            }),
            "loader: rank=2 must be in [0, world=2)");
  EXPECT_EQ(test::error_text<core::Error>([&] {
              ClipLoader(dataset, test_sampler(), tokenizer, kMaxTextLen, loader_config(2, 1), 1, 0, 1, true, {0, 4});
            }),
            "loader: start position epoch 0 cursor 4 is outside the stream (3 positions per epoch)");
  EXPECT_EQ(test::error_text<core::Error>([&] {
              ClipLoader(Dataset{}, test_sampler(), tokenizer, kMaxTextLen, loader_config(2, 1), 1, 0, 1, true);
            }),
            "loader: the dataset () has no clips");
}

}  // namespace
}  // namespace hdv::train
