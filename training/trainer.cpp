// The pre-training loop (see trainer.h; docs/design.md §5).
#include "training/trainer.h"

#include <torch/torch.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cmath>
#include <fstream>
#include <optional>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/atomic_file.h"
#include "core/autocast.h"
#include "core/checkpoint.h"
#include "core/device.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/shape_text.h"
#include "models/module_state.h"
#include "models/presets.h"
#include "models/tokenizer.h"
#include "models/vl_checkpoint.h"
#include "models/vl_model.h"
#include "training/hard_negatives.h"

namespace hdv::train {

namespace fs = std::filesystem;

void PretrainConfig::validate() const {
  if (stage != "contrastive" && stage != "mlm") {
    throw core::ConfigError(fmt::format("stage=\"{}\": expected \"contrastive\" or \"mlm\"", stage));
  }
  if (!video_mode.empty() && video_mode != "hybrid" && video_mode != "lr-only" && video_mode != "hr-only") {
    throw core::ConfigError(fmt::format("video_mode=\"{}\": expected hybrid, lr-only or hr-only", video_mode));
  }
  if (steps < 1) throw core::ConfigError(fmt::format("steps={} must be >= 1", steps));
  if (seed < 0) throw core::ConfigError(fmt::format("seed={} must be >= 0", seed));
  if (batch_norm != "batch" && batch_norm != "frozen") {
    throw core::ConfigError(fmt::format("batch_norm=\"{}\": expected \"batch\" or \"frozen\"", batch_norm));
  }
  if (!(mask_probability > 0 && mask_probability < 1)) {
    throw core::ConfigError(fmt::format("mask_probability={} must be in (0, 1)", mask_probability));
  }
  if (contrastive.hard_negatives > 0 && stage != "contrastive") {
    throw core::ConfigError("contrastive.hard_negatives > 0 belongs to stage \"contrastive\"");
  }
  if (video_text_matching && stage != "mlm") {
    throw core::ConfigError("video_text_matching=true belongs to stage \"mlm\"");
  }
  if (log_every < 1) throw core::ConfigError(fmt::format("log_every={} must be >= 1", log_every));
  if (checkpoint_every < 1) throw core::ConfigError(fmt::format("checkpoint_every={} must be >= 1", checkpoint_every));
  if (keep_checkpoints < 1) throw core::ConfigError(fmt::format("keep_checkpoints={} must be >= 1", keep_checkpoints));
  if (!(max_minutes >= 0)) throw core::ConfigError(fmt::format("max_minutes={} must be >= 0", max_minutes));
  contrastive.validate();
  optim.validate();
  sampler.validate();
  loader.validate();
}

PretrainConfig pretrain_defaults(const std::string& preset) {
  PretrainConfig config;
  config.preset = preset;
  models::vl_preset(preset);  // throws ConfigError for an unknown name
  config.sampler = sampler_preset(preset);
  if (preset != "hdvila-base") {
    // The small presets start their video tower from scratch: it needs a far higher rate than
    // the pretrained text tower (HD-VILA's 5e-5 is for fine-tuning ImageNet/BERT weights).
    config.optim.lr = 1e-4;
    config.optim.video_lr = 1e-3;
    config.optim.warmup = 0.05;
    config.optim.schedule = "cosine";
    config.loader.batch_size = 16;
  }
  return config;
}

namespace {

double resident_gib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0 * 1024.0);
}

// Is a parameter trained in this stage? Stage 1 trains the two towers and their projections;
// stage 2 only the cross-modal layers, the visual embeddings and the heads.
bool is_cross_modal(const std::string& name, int64_t text_layers) {
  static const std::regex layer(R"(bert\.encoder\.layer\.(\d+)\..*)");
  std::smatch match;
  if (std::regex_match(name, match, layer)) return std::stoll(match[1]) >= text_layers;
  return name.rfind("visual_embeddings.", 0) == 0 || name.rfind("mlm.", 0) == 0 || name.rfind("vtm.", 0) == 0;
}

void set_batch_norm_eval(torch::nn::Module& module) {
  for (const auto& child : module.modules(/*include_self=*/true)) {
    if (child->as<torch::nn::BatchNorm2d>() != nullptr) child->eval();
  }
}

constexpr const char* kWordEmbeddings = "bert.embeddings.word_embeddings.weight";

// Copies every tensor of a vl-model checkpoint whose name and shape match the model; the word
// embeddings must match (the vocabulary sized them).
void initialise_from(models::VLModelImpl& model, const fs::path& path) {
  core::Checkpoint checkpoint = core::Checkpoint::load(path, models::kVLModelKind);
  torch::NoGradGuard no_grad;
  int64_t copied = 0, total = 0;
  std::vector<std::string> mismatched;
  auto copy = [&](const std::string& name, at::Tensor& target) {
    ++total;
    if (!checkpoint.file().contains(name)) return;
    at::Tensor source = checkpoint.tensor(name);
    if (name == kWordEmbeddings && source.sizes() != target.sizes()) {
      // Fresh word embeddings would silently unlearn the text tower: a vocabulary mix-up.
      throw core::FormatError(fmt::format(
          "--init {}: {} has {} rows, but --vocab has {} tokens; pass the vocab.txt the init model was made with "
          "(vocab-extend writes one; a pretrain run folder keeps its own)",
          path.string(), name, source.size(0), target.size(0)));
    }
    if (source.sizes() != target.sizes()) {
      mismatched.push_back(name);
      return;
    }
    target.copy_(source.to(target.dtype()));
    ++copied;
  };
  for (auto& item : model.named_parameters()) copy(item.key(), item.value());
  for (auto& item : model.named_buffers()) copy(item.key(), item.value());
  if (copied == 0) {
    throw core::FormatError(fmt::format("--init {}: no tensor matches the model by name and shape", path.string()));
  }
  core::log_info("init: {} of {} tensors from {}", copied, total, path.string());
  if (!mismatched.empty()) {
    core::log_warning("init: {} tensors differ in shape and keep their fresh values (first: {})", mismatched.size(),
                      mismatched.front());
  }
}

// The global batch's features with this rank's rows still attached to the autograd graph.
at::Tensor gather_keeping_local(Distributed& dist, const at::Tensor& local) {
  if (dist.world_size() == 1) return local;
  at::Tensor all = dist.all_gather(local.detach());
  const int64_t b = local.size(0), r = dist.rank();
  return torch::cat({all.narrow(0, 0, r * b), local, all.narrow(0, (r + 1) * b, all.size(0) - (r + 1) * b)});
}

at::Tensor generator_state(at::Generator generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_generator_state(at::Generator generator, const at::Tensor& state) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

// Token ids and mask cut to the batch's longest caption. Exact for the text tower's embedding:
// the masked mean-pool ignores padding and attention never reads a padded key, while the cost
// grows with the length (captions are about half of max_text_len).
std::pair<at::Tensor, at::Tensor> trim_to_longest(const at::Tensor& ids, const at::Tensor& mask) {
  const int64_t used = std::max<int64_t>(1, mask.sum(1).max().item<int64_t>());
  return {ids.narrow(1, 0, used), mask.narrow(1, 0, used)};
}

// SplitMix64's finaliser.
uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Keys of a run's config that may change on --resume (they do not change what a step computes).
bool may_change_on_resume(const std::string& key) {
  static const std::set<std::string> keys = {"steps", "log_every", "checkpoint_every", "keep_checkpoints", "keep_models",
                                             "max_minutes", "loader.workers", "loader.queue_depth", "init"};
  return keys.count(key) > 0;
}


class Trainer {
 public:
  explicit Trainer(const PretrainRun& run) : run_(run), config_(run.config) {}
  PretrainResult run();

 private:
  void resolve_hard_negatives();
  void setup_model();
  void setup_resume();
  // This rank's clips' hard-negative captions, encoded: [B, K, D] and the mask of filled slots [B, K].
  std::pair<at::Tensor, at::Tensor> hard_negatives(const Batch& batch);
  double train_step(int64_t step);
  double contrastive_micro_step(const Batch& batch);
  double mlm_micro_step(const Batch& batch);
  void save(int64_t step);
  void log_tick(int64_t step, double loss, double tick_seconds, double wait_seconds, int64_t steps_in_tick);

  const PretrainRun& run_;
  PretrainConfig config_;
  c10::Device device_{c10::kCPU};
  std::unique_ptr<Distributed> dist_;
  models::VLConfig vl_config_;
  models::VLModel model_{nullptr};
  models::VLModel key_model_{nullptr};  // CMCL momentum encoders
  at::Tensor log_scale_;                // ln(1/τ) of the CLIP mode
  FeatureQueue video_queue_, text_queue_;
  std::vector<std::pair<std::string, at::Tensor>> trainable_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<models::Tokenizer> tokenizer_;
  std::unique_ptr<Dataset> dataset_;
  std::unique_ptr<ClipLoader> loader_;
  at::Generator mask_generator_;
  LoaderPosition position_;
  int64_t start_step_ = 0;
  int64_t nonfinite_total_ = 0;
  int64_t nonfinite_streak_ = 0;
  // Per log tick: clips whose caption outranks all their hard negatives (query encoder; CMCL: and
  // by its momentum key), of the clips with at least one.
  int64_t hard_wins_ = 0, hard_wins_key_ = 0, hard_clips_ = 0;
  int64_t skipped_before_ = 0;   // clips skipped before a resume
  double elapsed_before_ = 0;    // wall seconds before a resume
  fs::path resume_path_;
  std::chrono::steady_clock::time_point start_time_;
  std::vector<fs::path> written_checkpoints_;
};

void Trainer::resolve_hard_negatives() {
  ContrastiveConfig& contrastive = config_.contrastive;
  LoaderConfig& loader = config_.loader;
  if (contrastive.hard_negatives == 0 && loader.group_size == 0) return;
  if (!has_attribute_labels(*dataset_)) {
    if (!run_.label_flags.empty()) {
      throw core::UsageError(fmt::format(
          "{}: expected a dataset with SynthVid attribute labels (labels.jsonl) to swap and group by, got --data {} "
          "({}) without any; leave the flag out or set it to 0",
          fmt::join(run_.label_flags, ", "), run_.data.path.string(), dataset_->format));
    }
    core::log_info("hard negatives: off: --data {} ({}) has no attribute labels (SynthVid labels.jsonl), so "
                   "hard_negatives={} and group_size={} are set to 0",
                   run_.data.path.string(), dataset_->format, contrastive.hard_negatives, loader.group_size);
    contrastive.hard_negatives = 0;
    loader.group_size = 0;
    return;
  }
  core::log_info("hard negatives: {} swapped-attribute captions per clip in the video->text softmax; batches in "
                 "groups of {} clips sharing class + colour (and background where the data allows){}",
                 contrastive.hard_negatives, loader.group_size, loader.group_size == 0 ? " (off)" : "");
}

std::pair<at::Tensor, at::Tensor> Trainer::hard_negatives(const Batch& batch) {
  const int64_t b = int64_t(batch.texts.size()), k = config_.contrastive.hard_negatives;
  const int length = static_cast<int>(vl_config_.max_text_len);
  std::vector<int64_t> ids, masks, slots;  // the filled slots' tokens and their index i * K + j
  for (int64_t i = 0; i < b; ++i) {
    const ClipRecord& clip = dataset_->clips[size_t(batch.clip_indices[size_t(i)])];
    // Deterministic per clip of the stream (and so after a resume): seed, position, rank, row.
    uint64_t seed = mix64(static_cast<uint64_t>(config_.seed) ^ 0x4E6567434C4950ULL);  // "NegCLIP"
    for (int64_t part : {batch.position.epoch, batch.position.cursor, int64_t(dist_->rank()), i}) {
      seed = mix64(seed ^ static_cast<uint64_t>(part));
    }
    const std::vector<std::string> captions = hard_negative_captions(batch.texts[size_t(i)], clip.labels, k, seed);
    for (size_t j = 0; j < captions.size(); ++j) {
      models::Encoding e = tokenizer_->encode_for_model(captions[j], length);
      ids.insert(ids.end(), e.input_ids.begin(), e.input_ids.end());
      masks.insert(masks.end(), e.attention_mask.begin(), e.attention_mask.end());
      slots.push_back(i * k + int64_t(j));
    }
  }
  at::Tensor valid = torch::zeros({b * k}, torch::kBool);
  at::Tensor text = torch::zeros({b * k, vl_config_.embed_dim}, torch::TensorOptions().device(device_));
  if (!slots.empty()) {
    const auto n = int64_t(slots.size());
    at::Tensor index = torch::tensor(slots, torch::kLong);
    valid.index_fill_(0, index, true);
    auto [id_rows, mask_rows] = trim_to_longest(torch::tensor(ids, torch::kLong).view({n, length}),
                                                torch::tensor(masks, torch::kLong).view({n, length}));
    at::Tensor encoded = model_->encode_text(id_rows.to(device_), mask_rows.to(device_));
    text = text.index_copy(0, index.to(device_), encoded.to(torch::kFloat32));
  }
  return {text.view({b, k, -1}), valid.view({b, k}).to(device_)};
}

void Trainer::setup_model() {
  vl_config_ = models::vl_preset(config_.preset);
  if (!config_.video_mode.empty()) vl_config_.video.mode = config_.video_mode;
  vl_config_.vtm_head = config_.video_text_matching;
  vl_config_.segments = config_.sampler.segments;
  // The vocabulary decides the rows of the word embeddings and the MLM decoder: one grown by
  // vocab-extend, or another one altogether.
  if (tokenizer_->vocab_size() != vl_config_.text.vocab_size) {
    core::log_info("text.vocab_size {} -> {}: the tokens of --vocab {} (the {} preset has {})", vl_config_.text.vocab_size,
                   tokenizer_->vocab_size(), run_.vocab.string(), config_.preset, vl_config_.text.vocab_size);
    vl_config_.text.vocab_size = tokenizer_->vocab_size();
  }
  if (config_.sampler.frames != vl_config_.video.frames) {
    throw core::ConfigError(fmt::format("sampler.frames={} but the {} video tower takes {} frames per segment",
                                        config_.sampler.frames, config_.preset, vl_config_.video.frames));
  }
  vl_config_.validate();
  torch::manual_seed(static_cast<uint64_t>(config_.seed));
  model_ = models::VLModel(vl_config_);
  if (!config_.init.empty()) initialise_from(*model_, config_.init);
  model_->to(device_);

  // Every rank starts from rank 0's weights (initialisation is seeded, this makes sure).
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model_->parameters()) dist_->broadcast(p);
    for (auto& b : model_->buffers()) dist_->broadcast(b);
  }

  const bool stage1 = config_.stage == "contrastive";
  for (auto& item : model_->named_parameters()) {
    bool train = is_cross_modal(item.key(), vl_config_.text_layers) != stage1;
    item.value().set_requires_grad(train);
    if (train) trainable_.emplace_back(item.key(), item.value());
  }
  if (stage1 && config_.contrastive.mode == "clip") {
    log_scale_ = torch::full({}, std::log(1.0 / config_.contrastive.temperature),
                             torch::TensorOptions().device(device_));
    if (config_.contrastive.learnable_temperature) {
      log_scale_.set_requires_grad(true);
      trainable_.emplace_back("objective.log_scale", log_scale_);
    }
  }
  if (stage1 && config_.contrastive.mode == "cmcl") {
    key_model_ = models::VLModel(vl_config_);
    key_model_->to(device_);
    momentum_update(*key_model_, *model_, 0.0);  // the key encoders start as copies
    for (auto& p : key_model_->parameters()) p.set_requires_grad(false);
    video_queue_ = FeatureQueue(config_.contrastive.queue_size, vl_config_.embed_dim);
    text_queue_ = FeatureQueue(config_.contrastive.queue_size, vl_config_.embed_dim);
    video_queue_.to(device_);
    text_queue_.to(device_);
  }
  optimizer_ = std::make_unique<Optimizer>(trainable_, config_.optim, config_.steps);
  mask_generator_ = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(config_.seed) * 7919 + dist_->rank());
}

void Trainer::setup_resume() {
  const bool has_checkpoints = !latest_checkpoint(run_.out).empty();
  if (run_.resume.empty()) {
    if (has_checkpoints) {
      throw core::UsageError(fmt::format(
          "--out {}: the folder already holds checkpoints; pass --resume auto to continue that run or choose "
          "another --out", run_.out.string()));
    }
    return;
  }
  resume_path_ = run_.resume == "auto" ? latest_checkpoint(run_.out) : fs::path(run_.resume);
  if (resume_path_.empty()) {
    core::log_info("resume: {} holds no checkpoint yet, starting fresh", (run_.out / "checkpoints").string());
    return;
  }
  core::Checkpoint checkpoint = core::Checkpoint::load(resume_path_, kPretrainStateKind);
  const core::Json& meta = checkpoint.info().config;
  const std::string source = resume_path_.string();
  const int world = meta.at("state").at("world_size").get<int>();
  if (world != dist_->world_size()) {
    throw core::Error(fmt::format("--resume {}: written by {} ranks, this run has {}; resume with the same world size",
                                  source, world, dist_->world_size()));
  }
  const std::vector<std::string> differences =
      core::json_differences(meta.at("run"), core::config_to_json(config_), {.may_differ = may_change_on_resume});
  if (!differences.empty()) {
    throw core::ConfigError(fmt::format("--resume {}: the run's settings differ from the checkpoint's: {}", source,
                                        fmt::join(differences, "; ")));
  }

  torch::NoGradGuard no_grad;
  std::vector<std::string> missing;
  auto load_into = [&](const std::string& name, at::Tensor target) {
    models::copy_checkpoint_tensor(checkpoint, name, std::move(target), missing);
  };
  for (auto& item : model_->named_parameters()) load_into("model." + item.key(), item.value());
  for (auto& item : model_->named_buffers()) load_into("model." + item.key(), item.value());
  if (key_model_) {
    for (auto& item : key_model_->named_parameters()) load_into("key." + item.key(), item.value());
    for (auto& item : key_model_->named_buffers()) load_into("key." + item.key(), item.value());
    const core::Json& state = meta.at("state");
    video_queue_.restore(checkpoint.tensor("queue.video").to(device_), state.at("video_queue_count").get<int64_t>());
    text_queue_.restore(checkpoint.tensor("queue.text").to(device_), state.at("text_queue_count").get<int64_t>());
  }
  if (log_scale_.defined()) load_into("objective.log_scale", log_scale_);
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += "\n  " + m;
    throw core::FormatError(fmt::format("--resume {}: {} tensors missing or mis-shaped:{}", source, missing.size(), list));
  }
  optimizer_->restore(checkpoint.file());

  const int rank = dist_->rank();
  at::Tensor positions = checkpoint.tensor("run.positions");  // [world, 2]
  position_ = {positions[rank][0].item<int64_t>(), positions[rank][1].item<int64_t>()};
  set_generator_state(at::detail::getDefaultCPUGenerator(), checkpoint.tensor("run.rng")[rank].clone());
  set_generator_state(mask_generator_, checkpoint.tensor("run.mask_rng")[rank].clone());
  const core::Json& state = meta.at("state");
  start_step_ = checkpoint.info().step;
  nonfinite_total_ = state.at("nonfinite_total").get<int64_t>();
  nonfinite_streak_ = state.at("nonfinite_streak").get<int64_t>();
  skipped_before_ = state.at("skipped").get<int64_t>();
  elapsed_before_ = state.at("elapsed_seconds").get<double>();
  core::log_info("resume: step {} from {}", start_step_, source);
}

double Trainer::contrastive_micro_step(const Batch& batch) {
  const int64_t global_batch = batch.input_ids.size(0) * dist_->world_size();
  auto [trimmed_ids, trimmed_mask] = trim_to_longest(batch.input_ids, batch.attention_mask);
  at::Tensor ids = trimmed_ids.to(device_), mask = trimmed_mask.to(device_);
  at::Tensor keyframes = batch.keyframes.to(device_), neighbours = batch.neighbours.to(device_);
  at::Tensor text = model_->encode_text(ids, mask);
  at::Tensor video = model_->encode_video(keyframes, neighbours);
  const double accumulation = double(config_.optim.accumulation);
  at::Tensor hard_text, hard_valid;  // [B, K, D], [B, K]; undefined without hard negatives
  if (config_.contrastive.hard_negatives > 0) std::tie(hard_text, hard_valid) = hard_negatives(batch);
  // Diagnostic: clips whose own caption outranks all their hard negatives (query encoder, as the
  // loss and evaluation compare them; in CMCL also by the momentum key, which the loss does not use
  // for them: cmcl_hard_negative_logits puts the query-encoded caption beside the swaps).
  auto count_hard_wins = [&](const at::Tensor& key_text) {
    torch::NoGradGuard no_grad;
    const at::Tensor v = video.detach().to(torch::kFloat32);
    const at::Tensor hard = hard_negative_similarities(v, hard_text.detach(), hard_valid);
    const auto [wins, clips] = hard_negative_wins((v * text.detach().to(torch::kFloat32)).sum(1), hard);
    hard_wins_ += wins;
    hard_clips_ += clips;
    if (key_text.defined()) hard_wins_key_ += hard_negative_wins((v * key_text.to(torch::kFloat32)).sum(1), hard).first;
  };
  if (config_.contrastive.mode == "clip") {
    if (hard_text.defined()) count_hard_wins(at::Tensor());
    if (hard_text.defined() && dist_->world_size() > 1) {
      // Every rank's clips with their own hard negatives, this rank's rows still in the graph.
      const int64_t k = hard_text.size(1);
      hard_text = gather_keeping_local(*dist_, hard_text.flatten(0, 1)).view({-1, k, hard_text.size(2)});
      hard_valid = dist_->all_gather(hard_valid.to(torch::kLong).contiguous()).to(torch::kBool);
    }
    at::Tensor loss = info_nce_loss(gather_keeping_local(*dist_, text).to(torch::kFloat32),
                                    gather_keeping_local(*dist_, video).to(torch::kFloat32), log_scale_, hard_text,
                                    hard_valid);
    (loss / accumulation).backward();
    return loss.item<double>();
  }
  at::Tensor key_text, key_video;
  {
    torch::NoGradGuard no_grad;
    key_text = key_model_->encode_text(ids, mask).to(torch::kFloat32);
    key_video = key_model_->encode_video(keyframes, neighbours).to(torch::kFloat32);
  }
  if (hard_text.defined()) count_hard_wins(key_text);
  // The global batch's keys (rank order): queued after the step, and with batch negatives also
  // negatives of this step.
  const at::Tensor batch_video = dist_->all_gather(key_video.contiguous());
  const at::Tensor batch_text = dist_->all_gather(key_text.contiguous());
  BatchKeys batch_keys;
  if (config_.contrastive.batch_negatives) {
    batch_keys = {batch_video, batch_text, int64_t(dist_->rank()) * key_video.size(0)};
  }
  at::Tensor losses = cmcl_losses(video.to(torch::kFloat32), text.to(torch::kFloat32), key_video, key_text,
                                  video_queue_.keys(), text_queue_.keys(), config_.contrastive.temperature, hard_text,
                                  hard_valid, batch_keys, config_.contrastive.hard_negative_weight);
  at::Tensor loss = losses.sum() / double(global_batch);  // this rank's share of the global mean
  (loss / accumulation).backward();
  video_queue_.enqueue(batch_video);
  text_queue_.enqueue(batch_text);
  at::Tensor total = loss.detach().reshape({1}).clone();
  dist_->all_reduce_sum(total);
  return total.item<double>();
}

double Trainer::mlm_micro_step(const Batch& batch) {
  MaskingTokens tokens{tokenizer_->cls_id(), tokenizer_->sep_id(), tokenizer_->pad_id(), tokenizer_->mask_id(),
                       vl_config_.text.vocab_size};
  MaskedTokens masked = mask_tokens(batch.input_ids, batch.attention_mask, tokens, config_.mask_probability,
                                    mask_generator_);
  at::Tensor ids = masked.input_ids.to(device_), labels = masked.labels.to(device_);
  at::Tensor mask = batch.attention_mask.to(device_);
  at::Tensor keyframes = batch.keyframes.to(device_), neighbours = batch.neighbours.to(device_);
  models::PretrainOutput out = model_->forward(ids, mask, keyframes, neighbours);
  // The mean over every masked token of the global batch: each rank adds its sum / global count.
  at::Tensor count = labels.ne(-100).sum().to(torch::kFloat64).reshape({1}).cpu();
  dist_->all_reduce_sum(count);
  const double global_count = std::max(1.0, count.item<double>());
  at::Tensor loss = mlm_loss_sum(out.mlm_logits, labels) / global_count;
  if (config_.video_text_matching) {
    // Negatives: each caption paired with the next clip of the batch (a rank needs >= 2 clips).
    const int64_t b = ids.size(0);
    models::PretrainOutput negative =
        model_->forward(ids, mask, keyframes.roll(1, 0), neighbours.roll(1, 0));
    at::Tensor logits = torch::cat({out.vtm_logits, negative.vtm_logits}).to(torch::kFloat32);
    at::Tensor target = torch::cat({torch::ones({b}, torch::kLong), torch::zeros({b}, torch::kLong)}).to(device_);
    namespace F = torch::nn::functional;
    at::Tensor vtm = F::cross_entropy(logits, target, F::CrossEntropyFuncOptions().reduction(torch::kSum));
    loss = loss + vtm / double(2 * b * dist_->world_size());
  }
  (loss / double(config_.optim.accumulation)).backward();
  at::Tensor total = loss.detach().reshape({1}).cpu().to(torch::kFloat64);
  dist_->all_reduce_sum(total);
  return total.item<double>();
}

double Trainer::train_step(int64_t step) {
  if (key_model_) momentum_update(*key_model_, *model_, config_.contrastive.momentum);
  optimizer_->zero_grad();
  double loss = 0;
  for (int64_t micro = 0; micro < config_.optim.accumulation; ++micro) {
    std::optional<Batch> batch = loader_->next();
    if (!batch) throw core::Error("the training loader ended unexpectedly");
    position_ = batch->position;
    core::AutocastScope bf16(at::kCUDA, at::kBFloat16, device_.is_cuda());
    loss += config_.stage == "contrastive" ? contrastive_micro_step(*batch) : mlm_micro_step(*batch);
  }
  loss /= double(config_.optim.accumulation);

  dist_->all_reduce_gradients(optimizer_->tensors());
  // The logit scale is replicated and its loss computed in full on every rank: the sum over
  // ranks counts its gradient world-size times.
  if (log_scale_.defined() && log_scale_.requires_grad() && log_scale_.grad().defined()) {
    log_scale_.mutable_grad().div_(double(dist_->world_size()));
  }
  const double norm = optimizer_->clip_gradients();
  if (!std::isfinite(norm) || !std::isfinite(loss)) {
    ++nonfinite_total_;
    ++nonfinite_streak_;
    core::log_warning("step {}: non-finite loss or gradients (loss {}, gradient norm {}); step skipped ({} in a row)",
                      step + 1, loss, norm, nonfinite_streak_);
    optimizer_->zero_grad();
    if (nonfinite_streak_ >= config_.optim.max_nonfinite) {
      throw core::Error(fmt::format(
          "{} steps in a row had non-finite loss or gradients (last at step {}); lower --lr or check the data",
          nonfinite_streak_, step + 1));
    }
    return loss;
  }
  nonfinite_streak_ = 0;
  optimizer_->step(step);
  if (log_scale_.defined() && log_scale_.requires_grad()) {
    torch::NoGradGuard no_grad;
    log_scale_.clamp_max_(std::log(kMaxLogitScale));
  }
  return loss;
}

void Trainer::save(int64_t step) {
  // Every rank's data position and random state go into the one file rank 0 writes.
  at::Tensor position = torch::tensor({position_.epoch, position_.cursor}, torch::kInt64).reshape({1, 2});
  at::Tensor positions = dist_->all_gather(position);
  at::Tensor rng = dist_->all_gather(generator_state(at::detail::getDefaultCPUGenerator()).unsqueeze(0));
  at::Tensor mask_rng = dist_->all_gather(generator_state(mask_generator_).unsqueeze(0));
  at::Tensor skipped = torch::tensor({loader_->stats().skipped + skipped_before_}, torch::kInt64);
  dist_->all_reduce_sum(skipped);
  if (!dist_->is_main()) return;

  core::NamedTensors tensors;
  for (auto& item : model_->named_parameters()) tensors.emplace_back("model." + item.key(), item.value().detach());
  for (auto& item : model_->named_buffers()) tensors.emplace_back("model." + item.key(), item.value());
  if (key_model_) {
    for (auto& item : key_model_->named_parameters()) tensors.emplace_back("key." + item.key(), item.value().detach());
    for (auto& item : key_model_->named_buffers()) tensors.emplace_back("key." + item.key(), item.value());
    tensors.emplace_back("queue.video", video_queue_.buffer());
    tensors.emplace_back("queue.text", text_queue_.buffer());
  }
  if (log_scale_.defined()) tensors.emplace_back("objective.log_scale", log_scale_.detach());
  for (auto& entry : optimizer_->state()) tensors.push_back(std::move(entry));
  tensors.emplace_back("run.positions", positions);
  tensors.emplace_back("run.rng", rng);
  tensors.emplace_back("run.mask_rng", mask_rng);

  core::CheckpointInfo info;
  info.kind = kPretrainStateKind;
  info.preset = config_.preset;
  info.step = step;
  const double elapsed =
      elapsed_before_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time_).count();
  info.config = core::Json{{"run", core::config_to_json(config_)},
                           {"model", core::config_to_json(vl_config_)},
                           {"state",
                            {{"world_size", dist_->world_size()},
                             {"video_queue_count", video_queue_.count()},
                             {"text_queue_count", text_queue_.count()},
                             {"nonfinite_total", nonfinite_total_},
                             {"nonfinite_streak", nonfinite_streak_},
                             {"skipped", skipped.item<int64_t>()},
                             {"elapsed_seconds", elapsed}}}};
  const fs::path folder = run_.out / "checkpoints";
  fs::create_directories(folder);
  const fs::path path = folder / fmt::format("step-{:08d}.safetensors", step);
  core::save_checkpoint(path, tensors, info);
  models::save_vl_model(run_.out / "model.safetensors", *model_, config_.preset, step);
  const fs::path models_folder = run_.out / "models";
  if (config_.keep_models) {
    fs::create_directories(models_folder);
    models::save_vl_model(models_folder / path.filename(), *model_, config_.preset, step);
  }
  core::log_info("checkpoint: step {} -> {}", step, path.string());

  // Keep the newest keep_checkpoints files (by name: step numbers are zero-padded), and the
  // models of those only.
  std::vector<fs::path> all;
  for (const auto& entry : fs::directory_iterator(folder)) {
    static const std::regex pattern(R"(step-\d{8}\.safetensors)");
    if (std::regex_match(entry.path().filename().string(), pattern)) all.push_back(entry.path());
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i + size_t(config_.keep_checkpoints) < all.size(); ++i) {
    fs::remove(all[i]);
    std::error_code ignored;  // absent when the run did not keep models
    fs::remove(models_folder / all[i].filename(), ignored);
  }
}

void Trainer::log_tick(int64_t step, double loss, double tick_seconds, double wait_seconds, int64_t steps_in_tick) {
  const int64_t clips = steps_in_tick * config_.optim.accumulation * config_.loader.batch_size * dist_->world_size();
  const double clips_per_second = tick_seconds > 0 ? double(clips) / tick_seconds : 0;
  const double data_share = tick_seconds > 0 ? std::min(1.0, wait_seconds / tick_seconds) : 0;
  const double lr = optimizer_->lr_at(step - 1);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time_).count();
  const double per_step = seconds / double(std::max<int64_t>(step - start_step_, 1));
  const double eta = per_step * double(config_.steps - step);
  const double memory = resident_gib();
  const int64_t skipped = loader_->stats().skipped + skipped_before_;
  if (isatty(STDERR_FILENO)) std::fputs("\r\033[K", stderr);
  core::log_info("step {:>{}}/{} | loss {:.4f} | lr {:.2e} | {:.1f} clips/s | data {:.1f}% | mem {:.2f} GiB | eta {}",
                 step, int(std::to_string(config_.steps).size()), config_.steps, loss, lr, clips_per_second,
                 100.0 * data_share, memory, core::ConsoleProgress::format_duration(eta));
  core::Json record{{"step", step},
                    {"loss", loss},
                    {"lr", lr},
                    {"clips_per_s", clips_per_second},
                    {"data_wait", data_share},
                    {"mem_gib", memory},
                    {"skipped_clips", skipped},
                    {"nonfinite_steps", nonfinite_total_},
                    {"elapsed_s", elapsed_before_ + seconds}};
  if (log_scale_.defined()) record["temperature"] = std::exp(-log_scale_.item<double>());
  if (hard_clips_ > 0) {
    // This rank's clips only (a diagnostic, not reduced across ranks).
    record["hard_negative_wins"] = double(hard_wins_) / double(hard_clips_);
    if (config_.contrastive.mode == "cmcl") record["hard_negative_wins_key"] = double(hard_wins_key_) / double(hard_clips_);
  }
  hard_wins_ = hard_wins_key_ = hard_clips_ = 0;
  std::ofstream metrics(run_.out / "metrics.jsonl", std::ios::app);
  metrics << record.dump() << "\n";
  if (!metrics) throw core::IoError(fmt::format("{}: could not append a record", (run_.out / "metrics.jsonl").string()));
}

PretrainResult Trainer::run() {
  config_.validate();
  start_time_ = std::chrono::steady_clock::now();
  const DistributedEnv env = distributed_env();
  device_ = core::resolve_device(run_.device);
  if (device_.is_cuda() && env.source != "single process" && run_.device == "auto") {
    device_ = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
  }
  dist_ = std::make_unique<Distributed>(env, run_.distributed, device_.is_cuda());
  if (!dist_->is_main()) core::set_log_level(core::LogLevel::Warning);
  core::log_info("pre-training {} (stage {}, {}) on {}, {} rank{} ({})", config_.preset, config_.stage,
                 config_.stage == "contrastive" ? config_.contrastive.mode : "mlm", core::describe_device(device_),
                 dist_->world_size(), dist_->world_size() > 1 ? "s" : "", dist_->backend());

  tokenizer_ = std::make_unique<models::Tokenizer>(run_.vocab);
  // The data first: whether it carries labels decides the hard-negative settings, which the
  // resume check compares.
  DataSpec data = run_.data;
  data.text_field = config_.text_field;
  dataset_ = std::make_unique<Dataset>(load_dataset(data));
  if (int64_t(dataset_->clips.size()) < config_.loader.batch_size) {
    throw core::Error(fmt::format("--data {}: {} clips, fewer than one batch of {}", run_.data.path.string(),
                                  dataset_->clips.size(), config_.loader.batch_size));
  }
  if (dist_->is_main()) {
    for (const std::string& warning :
         unknown_token_warnings(unknown_token_shares(*dataset_, config_.text_field, *tokenizer_))) {
      core::log_warning("{}", warning);
    }
  }
  resolve_hard_negatives();
  setup_model();
  setup_resume();

  loader_ = std::make_unique<ClipLoader>(*dataset_, ClipSampler(config_.sampler), *tokenizer_, vl_config_.max_text_len,
                                         config_.loader, static_cast<uint64_t>(config_.seed), dist_->rank(),
                                         dist_->world_size(), /*train=*/true, position_);

  if (dist_->is_main()) {
    fs::create_directories(run_.out);
    core::Json resolved{{"run", core::config_to_json(config_)},
                        {"model", core::config_to_json(vl_config_)},
                        {"data", {{"path", run_.data.path.string()}, {"split", run_.data.split}, {"format", dataset_->format}}},
                        {"world_size", dist_->world_size()},
                        {"device", core::describe_device(device_)}};
    core::write_json_file(run_.out / "config.json", resolved);
    // The vocabulary beside model.safetensors: eval, directions and the guides find it there.
    if (fs::absolute(run_.vocab) != fs::absolute(run_.out / "vocab.txt")) {
      core::write_file_atomic(run_.out / "vocab.txt", core::read_file(run_.vocab));
    }
    if (!resume_path_.empty()) {
      truncate_metrics(run_.out / "metrics.jsonl", start_step_);
    } else {
      core::write_file_atomic(run_.out / "metrics.jsonl", "");
    }
  }

  model_->train();
  if (config_.batch_norm == "frozen") set_batch_norm_eval(*model_);
  if (config_.stage == "mlm") {
    // Frozen stage-1 towers also stop their dropout and BatchNorm statistics.
    model_->video->eval();
    model_->bert->embeddings->eval();
    for (int64_t i = 0; i < vl_config_.text_layers; ++i) model_->bert->encoder->layer[i]->eval();
  }
  if (key_model_) {
    key_model_->train();
    if (config_.batch_norm == "frozen") set_batch_norm_eval(*key_model_);
  }

  StopSignals signals;
  PretrainResult result;
  std::optional<core::ConsoleProgress> progress;
  if (dist_->is_main() && isatty(STDERR_FILENO)) {
    progress.emplace("pre-training", "steps", core::ProgressStyle::Bar);
  }
  auto tick_start = std::chrono::steady_clock::now();
  double tick_wait = loader_->stats().wait_seconds, tick_loss = 0;
  int64_t tick_steps = 0, step = start_step_;
  while (step < config_.steps) {
    // Stop requests (time budget on rank 0, a signal on any rank) are agreed on by all ranks.
    at::Tensor stop = torch::zeros({2}, torch::kFloat64);
    if (dist_->is_main() && config_.max_minutes > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time_).count() >
            config_.max_minutes * 60.0) {
      stop[0] = 1.0;
    }
    if (StopSignals::received() != 0) stop[1] = 1.0;
    dist_->all_reduce_sum(stop);
    if (stop[0].item<double>() > 0 || stop[1].item<double>() > 0) {
      result.stopped_early = true;
      if (stop[1].item<double>() > 0) {
        save(step);
        throw core::Error(fmt::format("interrupted at step {}; checkpoint written, continue with --resume auto", step));
      }
      core::log_info("time budget of {} min reached at step {} of {}", config_.max_minutes, step, config_.steps);
      break;
    }

    const double loss = train_step(step);
    ++step;
    ++tick_steps;
    tick_loss += loss;
    result.last_loss = loss;
    if (progress) progress->update(step - start_step_, config_.steps - start_step_);
    if (step % config_.log_every == 0 || step == config_.steps) {
      const double now_wait = loader_->stats().wait_seconds;
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - tick_start).count();
      if (dist_->is_main()) log_tick(step, tick_loss / double(tick_steps), seconds, now_wait - tick_wait, tick_steps);
      tick_start = std::chrono::steady_clock::now();
      tick_wait = now_wait;
      tick_loss = 0;
      tick_steps = 0;
    }
    if (step % config_.checkpoint_every == 0 && step < config_.steps) save(step);
  }
  if (progress) progress->finish();
  save(step);
  dist_->barrier();
  result.step = step;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time_).count();
  result.model = run_.out / "model.safetensors";
  const auto stats = loader_->stats();
  core::log_info("done: {} steps in {}, {} clips skipped, {} non-finite steps; model {}", step,
                 core::ConsoleProgress::format_duration(result.seconds), stats.skipped + skipped_before_,
                 nonfinite_total_, result.model.string());
  return result;
}

}  // namespace

PretrainResult pretrain(const PretrainRun& run) {
  Trainer trainer(run);
  return trainer.run();
}

}  // namespace hdv::train
