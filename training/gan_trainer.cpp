// The StyleGAN2 training loop (see gan_trainer.h; NVlabs stylegan2-ada-pytorch
// training/training_loop.py and training/loss.py).
#include "training/gan_trainer.h"

#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>
#include <memory>
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
#include "core/image_io.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/shape_text.h"
#include "generation/discriminator.h"
#include "generation/generator.h"
#include "generation/generator_checkpoint.h"
#include "generation/labels.h"
#include "generation/oracle.h"
#include "models/module_state.h"
#include "models/vl_checkpoint.h"
#include "models/vl_model.h"
#include "training/frechet.h"
#include "training/gan_guide.h"
#include "training/gan_losses.h"
#include "training/optim.h"
#include "training/run_folder.h"

namespace hdv::train {

namespace fs = std::filesystem;

void GanConfig::validate() const {
  auto fail = [](const std::string& message) { throw core::ConfigError(message); };
  gen::generator_preset(preset);  // ConfigError listing the known names
  if (resolution != 0 && (resolution < 8 || (resolution & (resolution - 1)) != 0)) {
    fail(fmt::format("resolution={} must be a power of two >= 8 (0 = the preset's)", resolution));
  }
  if (batch < 4 || batch % 4 != 0) fail(fmt::format("batch={} must be a multiple of 4 (the minibatch-std group)", batch));
  if (steps < 1) fail(fmt::format("steps={} must be >= 1", steps));
  if (seed < 0) fail(fmt::format("seed={} must be >= 0", seed));
  if (!(lr > 0)) fail(fmt::format("lr={} must be > 0", lr));
  if (!(beta1 >= 0 && beta1 < 1)) fail(fmt::format("beta1={} must be in [0, 1)", beta1));
  if (!(beta2 >= 0 && beta2 < 1)) fail(fmt::format("beta2={} must be in [0, 1)", beta2));
  if (!(eps > 0)) fail(fmt::format("eps={} must be > 0", eps));
  if (r1_interval < 1) fail(fmt::format("r1_interval={} must be >= 1", r1_interval));
  if (!(pl_weight >= 0)) fail(fmt::format("pl_weight={} must be >= 0", pl_weight));
  if (pl_interval < 1) fail(fmt::format("pl_interval={} must be >= 1", pl_interval));
  if (!(pl_decay > 0 && pl_decay <= 1)) fail(fmt::format("pl_decay={} must be in (0, 1]", pl_decay));
  if (pl_batch_shrink < 1 || batch % pl_batch_shrink != 0) {
    fail(fmt::format("pl_batch_shrink={} must be >= 1 and divide batch={}", pl_batch_shrink, batch));
  }
  if (!(style_mixing >= 0 && style_mixing <= 1)) fail(fmt::format("style_mixing={} must be in [0, 1]", style_mixing));
  if (!(ema_rampup >= 0)) fail(fmt::format("ema_rampup={} must be >= 0 (0 = off)", ema_rampup));
  if (log_every < 1) fail(fmt::format("log_every={} must be >= 1", log_every));
  if (sample_every < 1) fail(fmt::format("sample_every={} must be >= 1", sample_every));
  if (sample_count < 1) fail(fmt::format("sample_count={} must be >= 1", sample_count));
  if (checkpoint_every < 1) fail(fmt::format("checkpoint_every={} must be >= 1", checkpoint_every));
  if (keep_checkpoints < 1) fail(fmt::format("keep_checkpoints={} must be >= 1", keep_checkpoints));
  if (fd_every < 0) fail(fmt::format("fd_every={} must be >= 0 (0 = off)", fd_every));
  if (fd_samples < 2) fail(fmt::format("fd_samples={} must be >= 2", fd_samples));
  if (fd_image_size < 16) fail(fmt::format("fd_image_size={} must be >= 16", fd_image_size));
  if (!(max_minutes >= 0)) fail(fmt::format("max_minutes={} must be >= 0", max_minutes));
  if (d_warmup < 0) fail(fmt::format("d_warmup={} must be >= 0", d_warmup));
  if (precision != "fp32" && precision != "bf16") fail(fmt::format("precision={} must be fp32 or bf16", precision));
  if (!guide_classifier.empty() && labels.empty()) {
    fail("guide_classifier needs a conditional generator: its loss compares what G draws with the requested labels "
         "(give labels, --condition)");
  }
  if (!(guide_weight > 0)) fail(fmt::format("guide_weight={} must be > 0", guide_weight));
  if (mapping_layers < 0) fail(fmt::format("mapping_layers={} must be >= 0 (0 = the preset's)", mapping_layers));
  std::set<std::string> seen;
  for (const auto& name : labels) {
    if (name.empty()) fail("labels: an attribute name is empty");
    if (!seen.insert(name).second) fail(fmt::format("labels: attribute \"{}\" is named twice", name));
  }
}

void GanConfig::resolve() {
  if (resolution == 0) resolution = gen::generator_preset(preset).resolution;
  if (r1_gamma < 0) r1_gamma = 0.0002 * double(resolution * resolution) / double(batch);
  if (ema_kimg < 0) ema_kimg = double(batch) * 10.0 / 32.0;
}

at::Tensor sample_generator(gen::GeneratorImpl& generator, int64_t count, uint64_t seed, int64_t batch,
                            const at::Tensor& labels) {
  torch::NoGradGuard no_grad;
  at::Generator rng = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor z = torch::randn({count, generator.config().z_dim}, rng, torch::TensorOptions().dtype(torch::kFloat32));
  at::Tensor c;
  if (generator.config().conditional()) {
    c = labels.defined() ? labels : gen::random_labels(generator.config().labels, count, rng);
    if (c.dim() != 2 || c.size(0) != count) {
      throw core::Error(fmt::format("sample_generator: labels {}, expected [{}, {}]", core::shape_text(c.sizes()), count,
                                    generator.config().c_dim()));
    }
  }
  const auto device = generator.parameters().front().device();
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < count; i += batch) {
    const int64_t n = std::min(batch, count - i);
    at::Tensor zb = z.narrow(0, i, n).to(device);
    at::Tensor cb = c.defined() ? c.narrow(0, i, n).to(device) : at::Tensor();
    out.push_back(generator.forward(zb, 1.0, gen::NoiseMode::Const, cb).to(torch::kCPU, torch::kFloat32));  // [b, C, R, R]
  }
  return torch::cat(out);
}

at::Tensor image_grid(const at::Tensor& images, int64_t columns) {
  // images: [N, C, H, W]
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  columns = std::max<int64_t>(1, std::min(columns, n));
  const int64_t rows = (n + columns - 1) / columns;
  at::Tensor padded = torch::full({rows * columns, c, h, w}, -1.0, images.options());
  padded.narrow(0, 0, n).copy_(images);
  return padded.view({rows, columns, c, h, w}).permute({2, 0, 3, 1, 4}).reshape({c, rows * h, columns * w});
}

double generator_vl_fd(gen::GeneratorImpl& generator, models::VLModelImpl& vl_model, const at::Tensor& real,
                       int64_t count, uint64_t seed, int64_t size) {
  at::Tensor fake = sample_generator(generator, count, seed);
  if (fake.size(1) == 1) fake = fake.expand({-1, 3, -1, -1});
  FeatureStatistics real_stats = feature_statistics(vl_image_features(vl_model, real, size));
  FeatureStatistics fake_stats = feature_statistics(vl_image_features(vl_model, fake, size));
  return frechet_distance(real_stats, fake_stats);
}

namespace {


at::Tensor cpu_rng_state() {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_cpu_rng_state(const at::Tensor& state) {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

// Keys of the run config that may change on --resume (they do not change what a step computes).
bool may_change_on_resume(const std::string& key) {
  static const std::set<std::string> keys = {"steps", "log_every", "sample_every", "sample_count", "checkpoint_every",
                                             "keep_checkpoints", "fd_every", "fd_samples", "fd_image_size",
                                             "max_minutes", "guide_classifier", "guide_weight"};
  return keys.count(key) > 0;
}

void append_metrics(const fs::path& path, const core::Json& record) {
  std::ofstream metrics(path, std::ios::app);
  metrics << record.dump() << "\n";
  if (!metrics) throw core::IoError(fmt::format("{}: could not append a record", path.string()));
}

void set_requires_grad(torch::nn::Module& module, bool value) {
  for (auto& p : module.parameters()) p.set_requires_grad(value);
}

// NVlabs cleans every gradient before the Adam step: NaN -> 0, ±inf -> ±1e5.
void clean_gradients(const std::vector<at::Tensor>& parameters) {
  torch::NoGradGuard no_grad;
  for (const auto& p : parameters) {
    if (p.grad().defined()) p.grad().nan_to_num_(0.0, 1e5, -1e5);
  }
}

std::vector<std::pair<std::string, at::Tensor>> named_parameters(torch::nn::Module& module, const std::string& prefix) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (auto& item : module.named_parameters()) out.emplace_back(prefix + item.key(), item.value());
  return out;
}

class GanTrainer {
 public:
  explicit GanTrainer(const GanRun& run) : run_(run), config_(run.config) {}
  GanResult run();

 private:
  void setup();
  void setup_resume();
  // -> (images [B, C, R, R], ws [B, num_ws, w_dim]) with style mixing; c: [B, c_dim] labels
  // (conditional) or undefined.
  std::pair<at::Tensor, at::Tensor> run_generator(int64_t batch, bool update_w_avg, const at::Tensor& c);
  // images [B, C, R, R], c [B, c_dim] (conditional) -> float logits [B, 1] (under autocast when
  // precision is bf16).
  at::Tensor discriminate(const at::Tensor& images, const at::Tensor& c);
  // Labels for B generated images: those of random training images (NVlabs draws c from the
  // dataset, so G is asked for the label combinations the data has); undefined when unconditional.
  at::Tensor generated_labels(int64_t batch);
  void load_images_and_labels();
  void load_init_generator();
  // Loads guide_classifier and maps each label attribute it reads onto its head.
  void load_guide();
  // -> (real images [B, 3, R, R], their labels [B, c_dim] or undefined)
  std::pair<at::Tensor, at::Tensor> real_batch(int64_t step);
  void train_step(int64_t step);
  void save(int64_t step);
  void write_samples(int64_t step);
  double measure_fd(int64_t step);
  void log_tick(int64_t step, double seconds, int64_t steps_in_tick);

  const GanRun& run_;
  GanConfig config_;
  c10::Device device_{c10::kCPU};
  gen::GeneratorConfig g_config_;
  gen::DiscriminatorConfig d_config_;
  gen::Generator g_{nullptr}, g_ema_{nullptr};
  gen::Discriminator d_{nullptr};
  std::unique_ptr<Optimizer> g_opt_, d_opt_;
  LabelledImages owned_images_;
  const LabelledImages* images_ = nullptr;
  std::vector<gen::LabelAttribute> vocabulary_;  // conditional: the label vocabulary
  at::Tensor image_labels_;                       // conditional: float [N, c_dim] one-hot labels of the images
  at::Tensor pl_mean_;
  models::VLModel vl_model_{nullptr};
  at::Tensor fd_real_;
  gen::AttributeOracle guide_{nullptr};  // guide_classifier, frozen, and the attributes it reads
  std::vector<GuidedAttribute> guided_;
  double tick_guide_ = 0, last_guide_ = 0;
  int64_t start_step_ = 0;
  double elapsed_before_ = 0;
  fs::path resume_path_;
  std::chrono::steady_clock::time_point start_time_;
  // Per-tick sums of the losses (and the last regularisation values).
  double tick_g_ = 0, tick_d_ = 0, last_r1_ = 0, last_pl_ = 0, last_g_ = 0, last_d_ = 0, last_fd_ = -1;
  int64_t epoch_ = -1;
  at::Tensor order_;
};

void GanTrainer::load_images_and_labels() {
  if (run_.images != nullptr) {
    images_ = run_.images;
  } else {
    ImageSourceOptions data = run_.data;
    data.resolution = config_.resolution;
    owned_images_ = load_images(data);
    images_ = &owned_images_;
  }
  if (images_->size() < 1) throw core::Error(fmt::format("--data {}: no images", run_.data.path.string()));
  if (config_.labels.empty()) return;
  ImageLabelTable table = image_label_table(*images_, config_.labels);
  vocabulary_ = std::move(table.vocabulary);
  image_labels_ = gen::one_hot_labels(vocabulary_, table.choices);
  core::log_info("conditional: labels {} (c_dim {})", gen::label_summary(vocabulary_), image_labels_.size(1));
}

void GanTrainer::setup() {
  g_config_ = gen::generator_preset(config_.preset);
  g_config_.resolution = config_.resolution;
  if (config_.mapping_layers > 0) g_config_.mapping_layers = config_.mapping_layers;
  g_config_.labels = vocabulary_;
  g_config_.validate();
  d_config_ = gen::discriminator_config_for(g_config_);
  d_config_.validate();
  torch::manual_seed(static_cast<uint64_t>(config_.seed));
  g_ = gen::Generator(g_config_);
  d_ = gen::Discriminator(d_config_);
  g_ema_ = gen::Generator(g_config_);
  g_->to(device_);
  d_->to(device_);
  g_ema_->to(device_);
  if (!config_.init_generator.empty()) load_init_generator();
  if (!config_.guide_classifier.empty()) load_guide();
  update_ema(*g_ema_, *g_, 0.0);  // G_ema starts as a copy
  set_requires_grad(*g_ema_, false);
  pl_mean_ = torch::zeros({}, torch::TensorOptions().device(device_));

  auto adam = [&](int64_t interval) {
    const LazyAdam lazy = lazy_adam(config_.lr, config_.beta1, config_.beta2, interval);
    OptimConfig optim;
    optim.lr = lazy.lr;
    optim.beta1 = lazy.beta1;
    optim.beta2 = lazy.beta2;
    optim.eps = config_.eps;
    optim.weight_decay = 0;
    optim.warmup = 0;
    optim.schedule = "constant";
    optim.grad_clip = 0;
    return optim;
  };
  // The G correction only applies when there is a G regularisation phase (pl_weight > 0).
  g_opt_ = std::make_unique<Optimizer>(named_parameters(*g_, "G."), adam(config_.pl_weight > 0 ? config_.pl_interval : 0),
                                       config_.steps);
  d_opt_ = std::make_unique<Optimizer>(named_parameters(*d_, "D."), adam(config_.r1_gamma > 0 ? config_.r1_interval : 0),
                                       config_.steps);
}

void GanTrainer::load_init_generator() {
  const fs::path path = config_.init_generator;
  gen::Generator source = gen::load_generator(path);
  const core::Json wanted = core::config_to_json(g_config_), found = core::config_to_json(source->config());
  const std::vector<std::string> differences =
      core::json_differences(found, wanted, {.stored_name = "file", .current_name = "run"});
  if (!differences.empty()) {
    throw core::ConfigError(fmt::format("init_generator {}: its geometry differs from the run's ({} at {} px): {}",
                                        path.string(), config_.preset, config_.resolution, fmt::join(differences, "; ")));
  }
  torch::NoGradGuard no_grad;
  core::NamedTensors from = gen::generator_tensors(*source), to = gen::generator_tensors(*g_);
  for (size_t i = 0; i < to.size(); ++i) to[i].second.copy_(from[i].second.to(to[i].second.device()));
  core::log_info("init: G and G_ema start from {}", path.string());
}

void GanTrainer::load_guide() {
  const std::string& path = config_.guide_classifier;
  guide_ = gen::load_oracle(path);
  guide_->eval();
  set_requires_grad(*guide_, false);
  guide_->to(device_);
  std::vector<std::string> unread;
  guided_ = match_guide_heads(vocabulary_, guide_->config(), path, &unread);
  std::vector<std::string> read;
  for (const GuidedAttribute& attribute : guided_) read.push_back(attribute.name);
  core::log_info("guide: {} reads {} of G's images (weight {}){}", path, fmt::join(read, ", "), config_.guide_weight,
                 unread.empty() ? "" : fmt::format("; it has no head for {}", fmt::join(unread, ", ")));
}

void GanTrainer::setup_resume() {
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
  core::Checkpoint checkpoint = core::Checkpoint::load(resume_path_, kGanStateKind);
  const std::string source = resume_path_.string();
  const core::Json& meta = checkpoint.info().config;
  // Keys added after the checkpoint was written pass when they hold their defaults: that is
  // what the checkpoint's run computed.
  const core::Json defaults = core::config_to_json(GanConfig{});
  const std::vector<std::string> differences = core::json_differences(
      meta.at("run"), core::config_to_json(config_), {.may_differ = may_change_on_resume, .defaults = &defaults});
  if (!differences.empty()) {
    throw core::ConfigError(fmt::format("--resume {}: the run's settings differ from the checkpoint's: {}", source,
                                        fmt::join(differences, "; ")));
  }
  const core::Json stored_labels = meta.at("generator").value("labels", core::Json::array());
  if (stored_labels != core::config_to_json(g_config_).at("labels")) {
    throw core::ConfigError(fmt::format("--resume {}: the data's label vocabulary ({}) differs from the checkpoint's ({})",
                                        source, gen::label_summary(g_config_.labels), stored_labels.dump()));
  }

  torch::NoGradGuard no_grad;
  std::vector<std::string> missing;
  auto load_into = [&](const std::string& name, at::Tensor target) {
    models::copy_checkpoint_tensor(checkpoint, name, std::move(target), missing);
  };
  auto load_module = [&](torch::nn::Module& module, const std::string& prefix) {
    for (auto& item : module.named_parameters()) load_into(prefix + item.key(), item.value());
    for (auto& item : module.named_buffers()) load_into(prefix + item.key(), item.value());
  };
  load_module(*g_, "G.");
  load_module(*d_, "D.");
  load_module(*g_ema_, "G_ema.");
  load_into("run.pl_mean", pl_mean_);
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += "\n  " + m;
    throw core::FormatError(fmt::format("--resume {}: {} tensors missing or mis-shaped:{}", source, missing.size(), list));
  }
  g_opt_->restore(checkpoint.file());
  d_opt_->restore(checkpoint.file());
  set_cpu_rng_state(checkpoint.tensor("run.rng").clone());
  start_step_ = checkpoint.info().step;
  const core::Json& state = meta.at("state");
  elapsed_before_ = state.at("elapsed_seconds").get<double>();
  last_r1_ = state.at("last_r1").get<double>();
  last_pl_ = state.at("last_pl").get<double>();
  core::log_info("resume: step {} from {}", start_step_, source);
}

at::Tensor GanTrainer::generated_labels(int64_t batch) {
  if (!image_labels_.defined()) return {};
  at::Tensor pick = torch::randint(images_->size(), {batch}, torch::kInt64);
  return image_labels_.index_select(0, pick).to(device_);
}

std::pair<at::Tensor, at::Tensor> GanTrainer::run_generator(int64_t batch, bool update_w_avg, const at::Tensor& c) {
  at::Tensor z = torch::randn({batch, g_config_.z_dim}).to(device_);
  at::Tensor ws = g_->broadcast(g_->map(z, c, update_w_avg));  // [B, num_ws, w_dim]
  if (config_.style_mixing > 0) {
    const int64_t num_ws = g_config_.num_ws();
    const int64_t draw = torch::randint(1, num_ws, {1}, torch::kInt64).item<int64_t>();
    const double u = torch::rand({1}).item<double>();
    const int64_t cutoff = mixing_cutoff(u, draw, num_ws, config_.style_mixing);
    if (cutoff < num_ws) {
      at::Tensor z2 = torch::randn({batch, g_config_.z_dim}).to(device_);
      ws = gen::GeneratorImpl::mix(ws, g_->broadcast(g_->map(z2, c, false)), cutoff);
    }
  }
  at::Tensor images;
  {
    core::AutocastScope amp(device_.type(), at::kBFloat16, config_.precision == "bf16");
    images = g_->synthesize(ws, gen::NoiseMode::Random);  // [B, C, R, R]
  }
  return {images.to(torch::kFloat32), ws};
}

at::Tensor GanTrainer::discriminate(const at::Tensor& images, const at::Tensor& c) {
  core::AutocastScope amp(device_.type(), at::kBFloat16, config_.precision == "bf16");
  return d_->forward(images, c).to(torch::kFloat32);  // [B, 1]
}

std::pair<at::Tensor, at::Tensor> GanTrainer::real_batch(int64_t step) {
  const int64_t n = images_->size(), b = config_.batch;
  std::vector<int64_t> indices;
  indices.reserve(b);
  for (int64_t k = 0; k < b; ++k) {
    const int64_t position = step * b + k;
    const int64_t epoch = position / n;
    if (epoch != epoch_) {
      at::Generator rng = at::make_generator<at::CPUGeneratorImpl>(uint64_t(config_.seed) * 1000003ULL + uint64_t(epoch));
      order_ = torch::randperm(n, rng, torch::TensorOptions().dtype(torch::kInt64));
      epoch_ = epoch;
    }
    indices.push_back(order_[position % n].item<int64_t>());
  }
  at::Tensor batch = image_batch(*images_, indices, config_.mirror).to(device_);  // [B, 3, R, R]
  if (g_config_.img_channels == 1) batch = batch.mean(1, /*keepdim=*/true);
  at::Tensor c;
  if (image_labels_.defined()) c = image_labels_.index_select(0, torch::tensor(indices, torch::kInt64)).to(device_);
  return {batch, c};
}

void GanTrainer::train_step(int64_t step) {
  const int64_t b = config_.batch;
  auto [real, real_c] = real_batch(step);

  // During the D warm-up, G and G_ema stay as they are.
  const bool train_g = step >= config_.d_warmup;

  // Gmain: maximise D's logits of generated images (D frozen).
  set_requires_grad(*d_, false);
  g_opt_->zero_grad();
  if (train_g) {
    const at::Tensor c = generated_labels(b);
    auto [images, ws] = run_generator(b, /*update_w_avg=*/true, c);
    at::Tensor loss = generator_logistic_loss(discriminate(images, c));
    last_g_ = loss.item<double>();
    if (guide_) {
      const at::Tensor guide_loss = guide_cross_entropy(guide_->forward(images), c, guided_);
      last_guide_ = guide_loss.item<double>();
      loss = loss + guide_loss * config_.guide_weight;
    }
    loss.backward();
    clean_gradients(g_opt_->tensors());
    g_opt_->step(step);
  }

  // Greg: path-length regularisation, lazily every pl_interval steps.
  if (train_g && config_.pl_weight > 0 && step % config_.pl_interval == 0) {
    g_opt_->zero_grad();
    auto [images, ws] = run_generator(b / config_.pl_batch_shrink, true, generated_labels(b / config_.pl_batch_shrink));
    at::Tensor noise = torch::randn(images.sizes()).to(device_);
    PathLength pl = path_length_penalty(images, ws, noise, pl_mean_, config_.pl_decay);
    at::Tensor loss = (images.select(1, 0).select(1, 0).select(1, 0) * 0 + pl.penalty * config_.pl_weight).mean();
    (loss * double(config_.pl_interval)).backward();
    last_pl_ = pl.penalty.mean().item<double>();
    clean_gradients(g_opt_->tensors());
    g_opt_->step(step);
  }
  set_requires_grad(*d_, true);

  // Dmain: minimise D's logits of generated images, maximise those of real ones.
  set_requires_grad(*g_, false);
  d_opt_->zero_grad();
  {
    at::Tensor fake;
    const at::Tensor fake_c = generated_labels(b);
    {
      torch::NoGradGuard no_grad;
      fake = run_generator(b, /*update_w_avg=*/train_g, fake_c).first;
    }
    at::Tensor loss = discriminator_logistic_loss(discriminate(real, real_c), discriminate(fake, fake_c));
    loss.backward();
    last_d_ = loss.item<double>();
  }
  clean_gradients(d_opt_->tensors());
  d_opt_->step(step);

  // Dreg: R1 on the same real batch, lazily every r1_interval steps.
  if (config_.r1_gamma > 0 && step % config_.r1_interval == 0) {
    d_opt_->zero_grad();
    at::Tensor real_leaf = real.detach().requires_grad_(true);
    at::Tensor logits = discriminate(real_leaf, real_c);
    at::Tensor r1 = r1_penalty(logits, real_leaf);  // [B]
    at::Tensor loss = (logits.squeeze(1) * 0 + r1 * (config_.r1_gamma / 2)).mean();
    (loss * double(config_.r1_interval)).backward();
    last_r1_ = r1.mean().item<double>();
    clean_gradients(d_opt_->tensors());
    d_opt_->step(step);
  }
  set_requires_grad(*g_, true);

  // G_ema.
  if (train_g) update_ema(*g_ema_, *g_, ema_beta(b, config_.ema_kimg, config_.ema_rampup, step * b));
  tick_g_ += last_g_;
  tick_d_ += last_d_;
  tick_guide_ += last_guide_;
}

void GanTrainer::write_samples(int64_t step) {
  const int64_t columns = std::max<int64_t>(1, int64_t(std::ceil(std::sqrt(double(config_.sample_count)))));
  const fs::path folder = run_.out / "samples";
  fs::create_directories(folder);
  // G_ema (what generator.safetensors holds) and the raw G on the same latents and labels, so the
  // EMA's half-life can be judged by eye (StyleGAN2-ADA's small-data settings).
  const uint64_t seed = uint64_t(config_.seed) + 0x5eed;
  core::save_png(folder / fmt::format("step-{:08d}.png", step),
                 image_grid(sample_generator(*g_ema_, config_.sample_count, seed), columns));
  torch::NoGradGuard no_grad;
  const bool training = g_->is_training();
  g_->eval();
  core::save_png(folder / fmt::format("step-{:08d}-raw.png", step),
                 image_grid(sample_generator(*g_, config_.sample_count, seed), columns));
  g_->train(training);
}

double GanTrainer::measure_fd(int64_t step) {
  const auto start = std::chrono::steady_clock::now();
  const double fd = generator_vl_fd(*g_ema_, *vl_model_, fd_real_, config_.fd_samples, uint64_t(config_.seed) + 0xfd,
                                    config_.fd_image_size);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  core::log_info("step {}: VL-FD {:.4f} ({} real vs {} generated images, {:.1f} s; not Inception FID)", step, fd,
                 fd_real_.size(0), config_.fd_samples, seconds);
  append_metrics(run_.out / "metrics.jsonl", core::Json{{"step", step}, {"vl_fd", fd}, {"fd_seconds", seconds}});
  last_fd_ = fd;
  return fd;
}

void GanTrainer::save(int64_t step) {
  core::NamedTensors tensors;
  auto add_module = [&](torch::nn::Module& module, const std::string& prefix) {
    for (auto& item : module.named_parameters()) tensors.emplace_back(prefix + item.key(), item.value().detach());
    for (auto& item : module.named_buffers()) tensors.emplace_back(prefix + item.key(), item.value());
  };
  add_module(*g_, "G.");
  add_module(*d_, "D.");
  add_module(*g_ema_, "G_ema.");
  for (auto& entry : g_opt_->state()) tensors.push_back(std::move(entry));
  for (auto& entry : d_opt_->state()) tensors.push_back(std::move(entry));
  tensors.emplace_back("run.rng", cpu_rng_state());
  tensors.emplace_back("run.pl_mean", pl_mean_.detach());

  core::CheckpointInfo info;
  info.kind = kGanStateKind;
  info.preset = config_.preset;
  info.step = step;
  const double elapsed =
      elapsed_before_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time_).count();
  info.config = core::Json{{"run", core::config_to_json(config_)},
                           {"generator", core::config_to_json(g_config_)},
                           {"discriminator", core::config_to_json(d_config_)},
                           {"state",
                            {{"elapsed_seconds", elapsed},
                             {"images_seen", step * config_.batch},
                             {"last_r1", last_r1_},
                             {"last_pl", last_pl_}}}};
  const fs::path folder = run_.out / "checkpoints";
  fs::create_directories(folder);
  const fs::path path = folder / fmt::format("step-{:08d}.safetensors", step);
  core::save_checkpoint(path, tensors, info);
  gen::save_generator(run_.out / "generator.safetensors", *g_ema_, config_.preset, step);
  core::log_info("checkpoint: step {} -> {}", step, path.string());

  std::vector<fs::path> all;
  static const std::regex pattern(R"(step-\d{8}\.safetensors)");
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (std::regex_match(entry.path().filename().string(), pattern)) all.push_back(entry.path());
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i + size_t(config_.keep_checkpoints) < all.size(); ++i) fs::remove(all[i]);
}

void GanTrainer::log_tick(int64_t step, double seconds, int64_t steps_in_tick) {
  const double images_per_second = seconds > 0 ? double(steps_in_tick * config_.batch) / seconds : 0;
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time_).count();
  const double eta = total / double(std::max<int64_t>(step - start_step_, 1)) * double(config_.steps - step);
  const double loss_g = tick_g_ / double(steps_in_tick), loss_d = tick_d_ / double(steps_in_tick);
  if (isatty(STDERR_FILENO)) std::fputs("\r\033[K", stderr);
  const double loss_guide = tick_guide_ / double(steps_in_tick);
  core::log_info("step {:>{}}/{} | kimg {:.2f} | loss_G {:.4f} | loss_D {:.4f} | r1 {:.4f}{} | {:.1f} img/s | eta {}",
                 step, int(std::to_string(config_.steps).size()), config_.steps,
                 double(step * config_.batch) / 1000.0, loss_g, loss_d, last_r1_,
                 guide_ ? fmt::format(" | guide {:.4f}", loss_guide) : "", images_per_second,
                 core::ConsoleProgress::format_duration(eta));
  core::Json record{{"step", step},
                    {"kimg", double(step * config_.batch) / 1000.0},
                    {"loss_G", loss_g},
                    {"loss_D", loss_d},
                    {"r1", last_r1_},
                    {"img_per_s", images_per_second},
                    {"elapsed_s", elapsed_before_ + total}};
  if (config_.pl_weight > 0) record["pl"] = last_pl_;
  if (guide_) record["loss_guide"] = loss_guide;
  append_metrics(run_.out / "metrics.jsonl", record);
  tick_g_ = tick_d_ = tick_guide_ = 0;
}

GanResult GanTrainer::run() {
  config_.resolve();
  config_.validate();
  start_time_ = std::chrono::steady_clock::now();
  device_ = core::resolve_device(run_.device);
  if (config_.fd_every > 0 && run_.vl_model.empty()) {
    throw core::UsageError("--fd-every needs --vl-model (the VL model whose image features VL-FD compares)");
  }
  load_images_and_labels();  // first: a conditional generator's geometry depends on the data's labels
  setup();
  setup_resume();
  if (images_->pixels.size(2) != config_.resolution || images_->pixels.size(3) != config_.resolution) {
    throw core::Error(fmt::format("training images are {}, expected [N, 3, {}, {}]",
                                  core::shape_text(images_->pixels.sizes()), config_.resolution, config_.resolution));
  }
  if (config_.fd_every > 0) {
    vl_model_ = models::load_vl_model(run_.vl_model);
    vl_model_->to(device_);
    const int64_t n = std::min(config_.fd_samples, images_->size());
    at::Generator rng = at::make_generator<at::CPUGeneratorImpl>(uint64_t(config_.seed) + 0xfd);
    at::Tensor pick = torch::randperm(images_->size(), rng, torch::TensorOptions().dtype(torch::kInt64)).narrow(0, 0, n);
    std::vector<int64_t> indices(pick.data_ptr<int64_t>(), pick.data_ptr<int64_t>() + n);
    fd_real_ = image_batch(*images_, indices, false);
  }

  fs::create_directories(run_.out);
  core::Json resolved{{"run", core::config_to_json(config_)},
                      {"generator", core::config_to_json(g_config_)},
                      {"discriminator", core::config_to_json(d_config_)},
                      {"data",
                       {{"path", run_.images != nullptr ? std::string("(in memory)") : run_.data.path.string()},
                        {"kind", run_.data.kind},
                        {"split", run_.data.split},
                        {"images", images_->size()}}},
                      {"vl_model", run_.vl_model.string()},
                      {"device", core::describe_device(device_)}};
  core::write_json_file(run_.out / "config.json", resolved);
  if (!resume_path_.empty()) {
    truncate_metrics(run_.out / "metrics.jsonl", start_step_);
  } else {
    core::write_file_atomic(run_.out / "metrics.jsonl", "");
  }
  int64_t g_params = 0, d_params = 0;
  for (auto& p : g_->parameters()) g_params += p.numel();
  for (auto& p : d_->parameters()) d_params += p.numel();
  core::log_info("GAN training {} at {}x{} on {}: G {:.2f}M, D {:.2f}M parameters, {} images, batch {}, r1_gamma {:.4g}, "
                 "ema {:.3g} kimg", config_.preset, config_.resolution, config_.resolution,
                 core::describe_device(device_), double(g_params) / 1e6, double(d_params) / 1e6, images_->size(),
                 config_.batch, config_.r1_gamma, config_.ema_kimg);

  g_->train();
  d_->train();
  StopSignals signals;
  GanResult result;
  std::optional<core::ConsoleProgress> progress;
  if (isatty(STDERR_FILENO)) progress.emplace("GAN training", "steps", core::ProgressStyle::Bar);
  auto tick_start = std::chrono::steady_clock::now();
  const auto loop_start = tick_start;
  int64_t tick_steps = 0, step = start_step_;
  while (step < config_.steps) {
    if (StopSignals::received() != 0) {
      result.stopped_early = true;
      save(step);
      throw core::Error(fmt::format("interrupted at step {}; checkpoint written, continue with --resume auto", step));
    }
    if (config_.max_minutes > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time_).count() >
            config_.max_minutes * 60.0) {
      result.stopped_early = true;
      core::log_info("time budget of {} min reached at step {} of {}", config_.max_minutes, step, config_.steps);
      break;
    }
    train_step(step);
    ++step;
    ++tick_steps;
    if (progress) progress->update(step - start_step_, config_.steps - start_step_);
    if (step % config_.log_every == 0 || step == config_.steps) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - tick_start).count();
      log_tick(step, seconds, tick_steps);
      tick_start = std::chrono::steady_clock::now();
      tick_steps = 0;
    }
    if (step % config_.sample_every == 0 && step < config_.steps) write_samples(step);
    if (config_.fd_every > 0 && step % config_.fd_every == 0 && step < config_.steps) measure_fd(step);
    if (step % config_.checkpoint_every == 0 && step < config_.steps) save(step);
  }
  const double loop_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - loop_start).count();
  if (progress) progress->finish();
  write_samples(step);
  if (config_.fd_every > 0) measure_fd(step);
  save(step);
  result.step = step;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time_).count();
  result.images_per_second = loop_seconds > 0 ? double((step - start_step_) * config_.batch) / loop_seconds : 0;
  result.loss_g = last_g_;
  result.loss_d = last_d_;
  result.vl_fd = last_fd_;
  result.generator = run_.out / "generator.safetensors";
  core::log_info("done: {} steps ({:.1f} kimg) in {}, {:.1f} img/s; generator {}", step,
                 double(step * config_.batch) / 1000.0, core::ConsoleProgress::format_duration(result.seconds),
                 result.images_per_second, result.generator.string());
  return result;
}

}  // namespace

GanResult train_gan(const GanRun& run) {
  GanTrainer trainer(run);
  return trainer.run();
}

}  // namespace hdv::train
