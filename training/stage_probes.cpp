// Stage-wise linear probes (see stage_probes.h).
#include "training/stage_probes.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include <fmt/format.h>

#include "core/error.h"
#include "core/shape_text.h"
#include "models/tokenizer.h"
#include "models/vl_model.h"
#include "training/loader.h"
#include "training/synthvid.h"

namespace hdv::train {
namespace {

// [N, C, h, w] -> [N, C]
at::Tensor gap(const at::Tensor& map) { return map.mean({2, 3}); }

// [B*S*F, C, h, w] (F frames per segment, time order) -> [B*S, F*C]
at::Tensor gap_per_frame(const at::Tensor& maps, int64_t segments_total) {
  at::Tensor pooled = gap(maps);
  return pooled.reshape({segments_total, -1});
}

// [B*S, F, C, h, w] -> [B*S, F*C]
at::Tensor gap_sequence(const at::Tensor& sequence) { return sequence.mean({3, 4}).flatten(1); }

// Values of `attribute` and the index of the clip's value; -1 when the labels lack it.
std::pair<int64_t, int64_t> label_of(const core::Json& labels, std::string_view attribute) {
  auto find = [](const auto& vocabulary, const core::Json& field) -> std::pair<int64_t, int64_t> {
    const auto values = int64_t(vocabulary.size());
    if (!field.is_string()) return {values, -1};
    const std::string word = field.get<std::string>();
    for (size_t i = 0; i < vocabulary.size(); ++i) {
      if (vocabulary[i] == word) return {values, int64_t(i)};
    }
    return {values, -1};
  };
  const core::Json missing;
  if (attribute == "background") return find(kSynthBackgrounds, labels.contains("background") ? labels["background"] : missing);
  const core::Json& object = labels["objects"][0];
  const core::Json& field = object.contains(std::string(attribute)) ? object[std::string(attribute)] : missing;
  if (attribute == "class") return find(kSynthClasses, field);
  if (attribute == "colour") return find(kSynthColours, field);
  if (attribute == "texture") return find(kSynthTextures, field);
  if (attribute == "size") return find(kSynthSizes, field);
  return find(kSynthMotions, field);
}

bool one_object(const core::Json& labels) {
  return labels.is_object() && labels.contains("objects") && labels["objects"].is_array() &&
         labels["objects"].size() == 1 && labels["objects"][0].is_object();
}

// The one-object clips of a dataset (labels kept), in dataset order.
Dataset one_object_clips(const Dataset& dataset) {
  Dataset kept;
  kept.format = dataset.format;
  kept.root = dataset.root;
  for (const ClipRecord& clip : dataset.clips) {
    if (one_object(clip.labels)) kept.clips.push_back(clip);
  }
  return kept;
}

struct Encoded {
  std::vector<std::string> stages;
  std::vector<at::Tensor> features;  // per stage [N, D]
  std::vector<int64_t> clips;        // dataset index of each row
};

Encoded encode(models::VLModelImpl& model, const models::Tokenizer& tokenizer, const Dataset& dataset,
               const ClipSampler& sampler, const StageProbeOptions& options, int64_t done_before, int64_t total,
               std::chrono::steady_clock::time_point start) {
  LoaderConfig config;
  config.batch_size = static_cast<int>(options.batch_size);
  config.workers = options.workers;
  config.shuffle = false;
  config.max_skip_rate = 1.0;  // unreadable clips are left out, as in eval
  ClipLoader loader(dataset, sampler, tokenizer, static_cast<int>(model.config().max_text_len), config, 0, 0, 1,
                    /*train=*/false);
  Encoded out;
  std::vector<std::vector<at::Tensor>> parts;
  while (std::optional<Batch> batch = loader.next()) {
    auto stages = video_stage_features(model, batch->keyframes.to(options.device), batch->neighbours.to(options.device));
    if (parts.empty()) {
      for (auto& [name, features] : stages) out.stages.push_back(name);
      parts.resize(stages.size());
    }
    for (size_t s = 0; s < stages.size(); ++s) parts[s].push_back(stages[s].second.cpu());
    out.clips.insert(out.clips.end(), batch->clip_indices.begin(), batch->clip_indices.end());
    if (options.progress) {
      options.progress(done_before + int64_t(out.clips.size()), total,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  if (out.clips.empty()) throw core::Error(fmt::format("{}: no clip could be read", dataset.root.string()));
  for (auto& p : parts) out.features.push_back(torch::cat(p));
  return out;
}

}  // namespace

std::vector<std::pair<std::string, at::Tensor>> video_stage_features(models::VLModelImpl& model,
                                                                     const at::Tensor& keyframes,
                                                                     const at::Tensor& neighbours) {
  torch::NoGradGuard no_grad;
  models::VideoEncoderTrace trace;
  at::Tensor embedding = model.encode_video(keyframes, neighbours, &trace);  // [B, E]
  const int64_t b = keyframes.size(0), s = keyframes.size(1);
  std::vector<std::pair<std::string, at::Tensor>> stages;
  // [B*S, D] -> the mean over each clip's segments [B, D], float32
  auto add = [&](const char* name, const at::Tensor& per_segment) {
    if (!per_segment.defined()) return;
    stages.emplace_back(name, per_segment.reshape({b, s, -1}).mean(1).to(torch::kFloat32));
  };
  if (trace.hr_stem.defined()) {
    add("hr_stem", gap(trace.hr_stem));
    add("hr_layer1", gap(trace.hr_c2));
    add("hr_layer2", gap(trace.hr_c3));
    add("hr_layer3", gap(trace.hr_c4));
    add("hr_layer4", gap(trace.hr_c5));
    add("hr_tokens", gap(trace.hr_tokens));
  }
  if (trace.lr_c4.defined()) add("lr_layer3", gap_per_frame(trace.lr_c4, b * s));
  if (trace.sequence.defined()) {
    add("spacetime_in", gap_sequence(trace.sequence));
    add("spacetime_out", gap(trace.temporal));
  }
  add("visual_tokens", gap(trace.tokens));
  stages.emplace_back("embedding", embedding.to(torch::kFloat32));
  return stages;
}

LinearProbeResult linear_probe(const at::Tensor& fit_x, const at::Tensor& fit_y, const at::Tensor& test_x,
                               const at::Tensor& test_y, int64_t classes, const LinearProbeConfig& config) {
  if (fit_x.dim() != 2 || test_x.dim() != 2 || fit_x.size(1) != test_x.size(1) || fit_y.dim() != 1 ||
      test_y.dim() != 1 || fit_y.size(0) != fit_x.size(0) || test_y.size(0) != test_x.size(0)) {
    throw core::Error(fmt::format("linear_probe: fit {} / {} and test {} / {}: expected [N, D] / [N] and [M, D] / [M]",
                                  core::shape_text(fit_x.sizes()), core::shape_text(fit_y.sizes()),
                                  core::shape_text(test_x.sizes()), core::shape_text(test_y.sizes())));
  }
  if (fit_x.size(0) < 2 || test_x.size(0) < 1 || classes < 2 || config.l2.empty()) {
    throw core::Error(fmt::format("linear_probe: {} fit rows, {} test rows, {} classes, {} L2 strengths: expected >= 2, "
                                  ">= 1, >= 2 and >= 1",
                                  fit_x.size(0), test_x.size(0), classes, config.l2.size()));
  }
  torch::NoGradGuard outer;
  at::Tensor mean = fit_x.to(torch::kFloat64).mean(0);
  at::Tensor std = fit_x.to(torch::kFloat64).std(0, /*unbiased=*/false).clamp_min(1e-6);
  auto standardise = [&](const at::Tensor& x) { return ((x.to(torch::kFloat64) - mean) / std).to(torch::kFloat32); };
  const at::Tensor fx = standardise(fit_x), tx = standardise(test_x);
  const at::Tensor fy = fit_y.to(torch::kLong), ty = test_y.to(torch::kLong);

  // Fits W [D, C], b [C] from zero by full-batch L-BFGS; returns the accuracy on (x, y).
  auto fit_and_score = [&](const at::Tensor& x, const at::Tensor& y, const at::Tensor& eval_x, const at::Tensor& eval_y,
                           double l2) {
    torch::AutoGradMode enable(true);
    at::Tensor w = torch::zeros({x.size(1), classes}, torch::requires_grad());
    at::Tensor bias = torch::zeros({classes}, torch::requires_grad());
    torch::optim::LBFGS optimizer({w, bias}, torch::optim::LBFGSOptions(1.0)
                                                 .max_iter(config.iterations)
                                                 .history_size(20)
                                                 .line_search_fn("strong_wolfe"));
    auto closure = [&]() {
      optimizer.zero_grad();
      at::Tensor loss = torch::nn::functional::cross_entropy(torch::matmul(x, w) + bias, y) + 0.5 * l2 * w.pow(2).sum();
      loss.backward();
      return loss;
    };
    optimizer.step(closure);
    torch::NoGradGuard no_grad;
    at::Tensor predicted = (torch::matmul(eval_x, w) + bias).argmax(1);
    return 100.0 * predicted.eq(eval_y).to(torch::kFloat64).mean().item<double>();
  };

  LinearProbeResult result;
  const int64_t n = fx.size(0);
  const int64_t held = std::clamp<int64_t>(int64_t(double(n) * config.holdout), 1, n - 1);
  double best = -1;
  for (double l2 : config.l2) {
    const double accuracy = fit_and_score(fx.narrow(0, 0, n - held), fy.narrow(0, 0, n - held),
                                          fx.narrow(0, n - held, held), fy.narrow(0, n - held, held), l2);
    if (accuracy >= best) best = accuracy, result.l2 = l2;  // ties: the stronger (later) strength
  }
  result.accuracy = fit_and_score(fx, fy, tx, ty, result.l2);
  return result;
}

core::Json StageProbeReport::to_json() const {
  core::Json table = core::Json::object();
  for (const StageProbeScore& s : scores) {
    table[s.stage][s.attribute] = {{"accuracy", s.accuracy}, {"chance", s.chance}, {"l2", s.l2}, {"dims", s.dims}};
  }
  return {{"stages", stages}, {"probes", table}, {"fit_clips", fit_clips}, {"test_clips", test_clips},
          {"seconds", seconds}};
}

StageProbeReport stage_probes(models::VLModelImpl& model, const models::Tokenizer& tokenizer, const Dataset& fit,
                              const Dataset& test, const ClipSampler& sampler, const StageProbeOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  model.eval();
  const Dataset fit_clips = one_object_clips(fit), test_clips = one_object_clips(test);
  for (const Dataset* d : {&fit_clips, &test_clips}) {
    if (d->clips.empty()) {
      throw core::Error(fmt::format("{}: no one-object clip with SynthVid labels (labels.jsonl); stage probes need them",
                                    d->root.string()));
    }
  }
  const int64_t total = int64_t(fit_clips.clips.size() + test_clips.clips.size());
  const Encoded f = encode(model, tokenizer, fit_clips, sampler, options, 0, total, start);
  const Encoded t = encode(model, tokenizer, test_clips, sampler, options, int64_t(f.clips.size()), total, start);

  StageProbeReport report;
  report.stages = f.stages;
  report.fit_clips = int64_t(f.clips.size());
  report.test_clips = int64_t(t.clips.size());
  for (size_t s = 0; s < f.stages.size(); ++s) {
    for (std::string_view attribute : kStageProbeAttributes) {
      // Labels of the encoded rows; rows without the attribute are left out of this probe.
      auto labelled = [&](const Encoded& e, const Dataset& d, int64_t& values) {
        std::vector<int64_t> rows, labels;
        for (size_t k = 0; k < e.clips.size(); ++k) {
          auto [count, value] = label_of(d.clips[size_t(e.clips[k])].labels, attribute);
          values = count;
          if (value < 0) continue;
          rows.push_back(int64_t(k));
          labels.push_back(value);
        }
        return std::make_pair(torch::tensor(rows, torch::kLong), torch::tensor(labels, torch::kLong));
      };
      int64_t values = 0;
      auto [fit_rows, fit_labels] = labelled(f, fit_clips, values);
      auto [test_rows, test_labels] = labelled(t, test_clips, values);
      if (fit_rows.size(0) < 2 || test_rows.size(0) < 1) continue;
      StageProbeScore score;
      score.stage = f.stages[s];
      score.attribute = std::string(attribute);
      score.dims = f.features[s].size(1);
      score.chance = 100.0 / double(values);
      LinearProbeResult r = linear_probe(f.features[s].index_select(0, fit_rows), fit_labels,
                                         t.features[s].index_select(0, test_rows), test_labels, values, options.probe);
      score.accuracy = r.accuracy;
      score.l2 = r.l2;
      report.scores.push_back(score);
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

std::vector<SupervisedTowerTick> supervise_video_tower(models::VLModelImpl& model, const models::Tokenizer& tokenizer,
                                                       const Dataset& fit, const ClipSampler& sampler,
                                                       const SupervisedTowerOptions& options,
                                                       const std::function<void(const SupervisedTowerTick&)>& on_tick) {
  if (options.steps < 1 || options.lr <= 0 || options.temperature <= 0) {
    throw core::ConfigError(fmt::format("supervise_video_tower: steps={}, lr={}, temperature={}: expected >= 1, > 0, > 0",
                                        options.steps, options.lr, options.temperature));
  }
  const Dataset clips = one_object_clips(fit);
  if (clips.clips.empty()) {
    throw core::Error(fmt::format("{}: no one-object clip with SynthVid labels (labels.jsonl); the supervised tower "
                                  "check needs them",
                                  fit.root.string()));
  }
  // Labels per clip and attribute (-1: missing, ignored by the loss).
  const size_t attributes = kStageProbeAttributes.size();
  std::vector<int64_t> values(attributes, 0);
  std::vector<int64_t> table(clips.clips.size() * attributes, -1);
  for (size_t c = 0; c < clips.clips.size(); ++c) {
    for (size_t a = 0; a < attributes; ++a) {
      auto [count, value] = label_of(clips.clips[c].labels, kStageProbeAttributes[a]);
      values[a] = count;
      table[c * attributes + a] = value;
    }
  }
  const at::Tensor labels = torch::tensor(table, torch::kLong).view({int64_t(clips.clips.size()), int64_t(attributes)});

  torch::manual_seed(options.seed);
  torch::nn::ModuleList heads;
  for (size_t a = 0; a < attributes; ++a) heads->push_back(torch::nn::Linear(model.config().embed_dim, values[a]));
  heads->to(options.device);
  std::vector<at::Tensor> tower = model.video->parameters();
  for (const at::Tensor& p : model.video_proj->parameters()) tower.push_back(p);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(tower, std::make_unique<torch::optim::AdamWOptions>(options.lr));
  groups.emplace_back(heads->parameters(), std::make_unique<torch::optim::AdamWOptions>(options.lr * 10));
  torch::optim::AdamW optimizer(std::move(groups), torch::optim::AdamWOptions(options.lr));

  LoaderConfig config;
  config.batch_size = static_cast<int>(options.batch_size);
  config.workers = options.workers;
  config.max_skip_rate = 1.0;
  ClipLoader loader(clips, sampler, tokenizer, static_cast<int>(model.config().max_text_len), config, options.seed, 0,
                    1, /*train=*/true);
  model.train();
  std::vector<SupervisedTowerTick> ticks;
  double loss_sum = 0;
  int64_t tick_steps = 0, tick_clips = 0;
  std::vector<int64_t> right(attributes, 0), seen(attributes, 0);
  auto tick_start = std::chrono::steady_clock::now();
  for (int64_t step = 1; step <= options.steps; ++step) {
    std::optional<Batch> batch = loader.next();
    if (!batch) throw core::Error(fmt::format("{}: the training stream ended", fit.root.string()));
    const at::Tensor index = torch::tensor(batch->clip_indices, torch::kLong);
    const at::Tensor y = labels.index_select(0, index).to(options.device);
    at::Tensor embedding =
        model.encode_video(batch->keyframes.to(options.device), batch->neighbours.to(options.device)).to(torch::kFloat32);
    embedding = embedding / options.temperature;
    at::Tensor loss = torch::zeros({}, embedding.options());
    for (size_t a = 0; a < attributes; ++a) {
      const at::Tensor target = y.select(1, int64_t(a));
      const at::Tensor logits = heads[a]->as<torch::nn::Linear>()->forward(embedding);
      loss = loss + torch::nn::functional::cross_entropy(
                        logits, target, torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1));
      torch::NoGradGuard no_grad;
      const at::Tensor known = target.ge(0);
      right[a] += logits.argmax(1).eq(target).logical_and(known).sum().item<int64_t>();
      seen[a] += known.sum().item<int64_t>();
    }
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    loss_sum += loss.item<double>();
    ++tick_steps;
    tick_clips += int64_t(batch->clip_indices.size());
    if (step % options.log_every == 0 || step == options.steps) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - tick_start).count();
      SupervisedTowerTick tick;
      tick.step = step;
      tick.loss = loss_sum / double(tick_steps);
      tick.clips_per_second = seconds > 0 ? double(tick_clips) / seconds : 0;
      for (size_t a = 0; a < attributes; ++a) {
        tick.accuracy.emplace_back(std::string(kStageProbeAttributes[a]),
                                   seen[a] > 0 ? 100.0 * double(right[a]) / double(seen[a]) : 0.0);
      }
      ticks.push_back(tick);
      if (on_tick) on_tick(tick);
      loss_sum = 0, tick_steps = 0, tick_clips = 0;
      std::fill(right.begin(), right.end(), 0);
      std::fill(seen.begin(), seen.end(), 0);
      tick_start = std::chrono::steady_clock::now();
    }
  }
  model.eval();
  return ticks;
}

}  // namespace hdv::train
