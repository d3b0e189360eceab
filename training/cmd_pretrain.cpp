// Pre-training subcommands of hdvila-train (docs/design.md §5, docs/training.md):
//   pretrain --data DIR --out RUN ...   stage-1 contrastive or stage-2 MLM pre-training, one process
//                                       or many (torchrun / srun), resumable
//   eval --model CKPT --data DIR ...    zero-shot text<->video retrieval R@1/5/10, median/mean rank
//   stage-probes --model CKPT --data DIR  linear probes of SynthVid attributes at every stage of
//                                       the video tower (fitted on --fit-split, scored on --split)
//
// Settings come from the --preset's defaults, then --config run.json, then flags.
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>

#include <fmt/format.h>

#include "core/checkpoint.h"
#include "core/config.h"
#include "core/device.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "generation/vl_guide.h"
#include "models/bert_import.h"
#include "models/tokenizer.h"
#include "models/vl_checkpoint.h"
#include "models/vl_model.h"
#include "training/command.h"
#include "training/evaluation.h"
#include "training/stage_probes.h"
#include "training/trainer.h"

namespace hdv::train {
namespace {

namespace fs = std::filesystem;

// --vocab, or the bert-base-uncased vocabulary of all-MiniLM-L6-v2 (what hdvila-small's text
// tower was imported from) located through the venv's Python.
fs::path resolve_vocab(const std::string& vocab, const std::string& python) {
  if (!vocab.empty()) return vocab;
  fs::path path = models::minilm_model_dir(python) / "vocab.txt";
  if (!fs::exists(path)) throw core::IoError(fmt::format("{}: not found (pass --vocab FILE)", path.string()));
  return path;
}

void add_data_options(CLI::App* sub, DataSpec& data, const std::string& default_split) {
  data.split = default_split;
  sub->add_option("--data", data.path, "Dataset folder or metadata file (HD-VILA JSONL, WebVid CSV, MSR-VTT JSON)")
      ->required();
  sub->add_option("--split", data.split, "Split: a subfolder (SynthVid: train/val/test/compositional) or MSR-VTT split")
      ->capture_default_str();
  sub->add_option("--format", data.format, "auto, hdvila, webvid or msrvtt")
      ->check(CLI::IsMember({"auto", "hdvila", "webvid", "msrvtt"}))
      ->capture_default_str();
  sub->add_option("--video-root", data.video_root, "Folder holding the videos, when not the format's default place");
}

struct PretrainOptions {
  PretrainRun run;
  PretrainConfig flags = pretrain_defaults("hdvila-small");
  std::string config_file;
  std::string python = default_python();
  std::string vocab;
  int timeout_seconds = 300;
  bool dry_run = false;
  CLI::Option* preset_option = nullptr;
  CLI::App* flags_sub = nullptr;  // the subcommand, to ask which flags were given
  // Options given on the command line and how each one sets its field.
  std::vector<std::pair<CLI::Option*, std::function<void(PretrainConfig&)>>> overrides;
};

void add_pretrain(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  auto options = std::make_shared<PretrainOptions>();
  CLI::App* sub = app.add_subcommand("pretrain", "Pre-train the video-language model (contrastive stage 1, MLM stage 2)");
  options->flags_sub = sub;
  add_data_options(sub, options->run.data, "train");
  sub->add_option("--out", options->run.out, "Run folder: config.json, metrics.jsonl, checkpoints/, model.safetensors")
      ->required();
  sub->add_option("--config", options->config_file, "Run settings JSON (keys of config.json's \"run\"), over the preset's");
  sub->add_option("--resume", options->run.resume, "Continue a run: auto (newest checkpoint in --out) or a checkpoint file");
  sub->add_option("--vocab", options->vocab, "WordPiece vocab.txt (default: all-MiniLM-L6-v2's, found with --python)");
  sub->add_option("--python", options->python, "The venv's Python, to locate the default vocabulary")
      ->capture_default_str();
  sub->add_option("--backend", options->run.distributed.backend, "Process group: auto (NCCL on CUDA, else Gloo), gloo, nccl")
      ->check(CLI::IsMember({"auto", "gloo", "nccl"}))
      ->capture_default_str();
  sub->add_option("--timeout", options->timeout_seconds, "Seconds a collective may wait for peers before failing")
      ->check(core::positive_integer())
      ->capture_default_str();
  sub->add_flag("--dry-run", options->dry_run, "Print the resolved settings and exit");

  PretrainConfig& f = options->flags;
  auto& overrides = options->overrides;
  // One table: flag, field, help. Defaults shown are hdvila-small's.
  auto field = [&](const char* name, auto& target, const char* help, std::function<void(PretrainConfig&)> apply) {
    CLI::Option* option = sub->add_option(name, target, help)->capture_default_str();
    overrides.emplace_back(option, std::move(apply));
    return option;
  };
  options->preset_option = field("--preset", f.preset, "VL model preset: hdvila-base, hdvila-small, hdvila-tiny",
                                 [&f](PretrainConfig& c) { c.preset = f.preset; });
  field("--init", f.init, "vl-model checkpoint to start from (e.g. from `hdvila-train import --minilm`)",
        [&f](PretrainConfig& c) { c.init = f.init; });
  field("--stage", f.stage, "contrastive (stage 1) or mlm (stage 2, stage-1 weights frozen)",
        [&f](PretrainConfig& c) { c.stage = f.stage; })
      ->check(CLI::IsMember({"contrastive", "mlm"}));
  field("--mode", f.contrastive.mode, "Stage 1: clip (all-gathered InfoNCE) or cmcl (WenLan momentum queues)",
        [&f](PretrainConfig& c) { c.contrastive.mode = f.contrastive.mode; })
      ->check(CLI::IsMember({"clip", "cmcl"}));
  field("--video-mode", f.video_mode, "Video tower: hybrid, lr-only, hr-only (default: the preset's)",
        [&f](PretrainConfig& c) { c.video_mode = f.video_mode; })
      ->check(CLI::IsMember({"hybrid", "lr-only", "hr-only"}));
  field("--steps", f.steps, "Optimiser steps", [&f](PretrainConfig& c) { c.steps = f.steps; })
      ->check(core::positive_integer());
  field("--batch-size", f.loader.batch_size, "Clips per rank per micro-batch",
        [&f](PretrainConfig& c) { c.loader.batch_size = f.loader.batch_size; })
      ->check(core::positive_integer());
  field("--accumulation", f.optim.accumulation, "Micro-batches per optimiser step",
        [&f](PretrainConfig& c) { c.optim.accumulation = f.optim.accumulation; })
      ->check(core::positive_integer());
  field("--lr", f.optim.lr, "Peak learning rate (text tower, cross-modal layers)",
        [&f](PretrainConfig& c) { c.optim.lr = f.optim.lr; })
      ->check(core::positive_number());
  field("--video-lr", f.optim.video_lr, "Peak learning rate of the video tower (0 = --lr)",
        [&f](PretrainConfig& c) { c.optim.video_lr = f.optim.video_lr; });
  field("--warmup", f.optim.warmup, "Fraction of steps of linear warm-up",
        [&f](PretrainConfig& c) { c.optim.warmup = f.optim.warmup; });
  field("--schedule", f.optim.schedule, "Decay after warm-up: linear, cosine, constant",
        [&f](PretrainConfig& c) { c.optim.schedule = f.optim.schedule; })
      ->check(CLI::IsMember({"linear", "cosine", "constant"}));
  field("--weight-decay", f.optim.weight_decay, "AdamW decoupled weight decay",
        [&f](PretrainConfig& c) { c.optim.weight_decay = f.optim.weight_decay; });
  field("--grad-clip", f.optim.grad_clip, "Max gradient norm (0 = off)",
        [&f](PretrainConfig& c) { c.optim.grad_clip = f.optim.grad_clip; });
  field("--temperature", f.contrastive.temperature, "Contrastive temperature τ",
        [&f](PretrainConfig& c) { c.contrastive.temperature = f.contrastive.temperature; })
      ->check(core::positive_number());
  sub->add_flag("--learnable-temperature", f.contrastive.learnable_temperature,
                "CLIP mode: learn the logit scale (from ln(1/τ), clamped at ln 100)");
  overrides.emplace_back(sub->get_option("--learnable-temperature"), [&f](PretrainConfig& c) {
    c.contrastive.learnable_temperature = f.contrastive.learnable_temperature;
  });
  field("--queue-size", f.contrastive.queue_size, "CMCL: keys per queue",
        [&f](PretrainConfig& c) { c.contrastive.queue_size = f.contrastive.queue_size; })
      ->check(core::positive_integer());
  field("--momentum", f.contrastive.momentum, "CMCL: key-encoder momentum",
        [&f](PretrainConfig& c) { c.contrastive.momentum = f.contrastive.momentum; });
  field("--hard-negatives", f.contrastive.hard_negatives,
        "Captions per clip with one attribute swapped (texture, motion, class, size) in its video->text softmax "
        "(SynthVid labels; 0 = off)",
        [&f](PretrainConfig& c) { c.contrastive.hard_negatives = f.contrastive.hard_negatives; })
      ->check(core::integer_in(0, kMaxHardNegatives));
  field("--hard-negative-weight", f.contrastive.hard_negative_weight,
        "CMCL: weight of the hard negatives' own cross-entropy (1 = as the queue rows)",
        [&f](PretrainConfig& c) { c.contrastive.hard_negative_weight = f.contrastive.hard_negative_weight; });
  sub->add_flag("--batch-negatives", f.contrastive.batch_negatives,
                "CMCL: the other clips of the global batch are negatives too, not only the queues (ALBEF); with "
                "--group-size, look-alikes then meet in the same softmax");
  overrides.emplace_back(sub->get_option("--batch-negatives"), [&f](PretrainConfig& c) {
    c.contrastive.batch_negatives = f.contrastive.batch_negatives;
  });
  field("--group-size", f.loader.group_size,
        "Batches in groups of this many clips sharing class + colour (and background where possible), differing "
        "in texture or motion (SynthVid labels; 0 = off; must divide --batch-size)",
        [&f](PretrainConfig& c) { c.loader.group_size = f.loader.group_size; })
      ->check(core::integer_in(0, 1024));
  field("--seed", f.seed, "Seed of data order, sampling, initialisation and masking",
        [&f](PretrainConfig& c) { c.seed = f.seed; })
      ->check(core::non_negative_integer());
  field("--workers", f.loader.workers, "Data-loading threads per rank",
        [&f](PretrainConfig& c) { c.loader.workers = f.loader.workers; })
      ->check(core::positive_integer());
  field("--max-skip-rate", f.loader.max_skip_rate, "Share of unreadable clips tolerated before the run fails",
        [&f](PretrainConfig& c) { c.loader.max_skip_rate = f.loader.max_skip_rate; });
  field("--batch-norm", f.batch_norm, "batch (per-rank statistics) or frozen (running statistics)",
        [&f](PretrainConfig& c) { c.batch_norm = f.batch_norm; })
      ->check(CLI::IsMember({"batch", "frozen"}));
  field("--text-field", f.text_field, "Caption field of clip_text.jsonl (SynthVid: text, text_asr, text_zh)",
        [&f](PretrainConfig& c) { c.text_field = f.text_field; });
  field("--mask-probability", f.mask_probability, "Stage 2: share of tokens masked",
        [&f](PretrainConfig& c) { c.mask_probability = f.mask_probability; });
  sub->add_flag("--vtm", f.video_text_matching, "Stage 2: add the video-text matching loss");
  overrides.emplace_back(sub->get_option("--vtm"),
                         [&f](PretrainConfig& c) { c.video_text_matching = f.video_text_matching; });
  field("--log-every", f.log_every, "Steps per log line and metrics.jsonl record",
        [&f](PretrainConfig& c) { c.log_every = f.log_every; })
      ->check(core::positive_integer());
  field("--checkpoint-every", f.checkpoint_every, "Steps between checkpoints",
        [&f](PretrainConfig& c) { c.checkpoint_every = f.checkpoint_every; })
      ->check(core::positive_integer());
  field("--keep-checkpoints", f.keep_checkpoints, "Newest checkpoints kept",
        [&f](PretrainConfig& c) { c.keep_checkpoints = f.keep_checkpoints; })
      ->check(core::positive_integer());
  sub->add_flag("--keep-models", f.keep_models,
                "Also keep each kept checkpoint's model as models/step-N.safetensors, for `eval` of the run's progress");
  overrides.emplace_back(sub->get_option("--keep-models"), [&f](PretrainConfig& c) { c.keep_models = f.keep_models; });
  field("--max-minutes", f.max_minutes, "Stop cleanly after this many minutes (0 = no limit)",
        [&f](PretrainConfig& c) { c.max_minutes = f.max_minutes; });

  commands.push_back({sub, [options, &common] {
    core::apply_common_options(common);
    PretrainRun& run = options->run;
    // The preset: the flag, else the config file's, else hdvila-small.
    core::Json file_json;
    if (!options->config_file.empty()) file_json = core::read_json_file(options->config_file);
    std::string preset = "hdvila-small";
    if (file_json.is_object() && file_json.contains("preset") && file_json["preset"].is_string()) {
      preset = file_json["preset"].get<std::string>();
    }
    if (options->preset_option->count() > 0) preset = options->flags.preset;
    run.config = pretrain_defaults(preset);
    if (!file_json.is_null()) core::config_from_json(file_json, run.config, options->config_file);
    for (auto& [option, apply] : options->overrides) {
      if (option->count() > 0) apply(run.config);
    }
    run.config.validate();
    // Label-based features asked for on the command line must not be silently dropped.
    for (const char* name : {"--hard-negatives", "--group-size"}) {
      CLI::Option* option = options->flags_sub->get_option(name);
      if (option->count() > 0 && option->as<int64_t>() > 0) run.label_flags.push_back(fmt::format("{} {}", name, option->as<int64_t>()));
    }
    run.distributed.timeout = std::chrono::seconds(options->timeout_seconds);
    run.device = common.device;
    if (options->dry_run) {
      std::printf("%s\n", core::config_to_json(run.config).dump(2).c_str());
      return;
    }
    run.vocab = resolve_vocab(options->vocab, options->python);
    pretrain(run);
  }});
}

// What eval and stage-probes share: the model, how its clips are sampled and tokenised, the batching.
struct ModelRunOptions {
  std::string model;
  std::string vocab;
  std::string python = default_python();
  int batch_size = 16;
  int workers = 2;
  std::string resolution;
  std::string run_config;  // a pretrain run's config.json whose run.sampler is used
};

struct EvalOptions_ {
  ModelRunOptions run;
  DataSpec data;
  std::string json;
};

// The sampler geometry a model was trained with: "run"."sampler" of the run's config.json (given,
// or found beside the model file), else the preset's.
ClipSamplerConfig trained_sampler(const fs::path& model_path, const std::string& preset, const std::string& run_config) {
  ClipSamplerConfig sampler = sampler_preset(preset.empty() ? "hdvila-small" : preset);
  const fs::path config_path = run_config.empty() ? model_path.parent_path() / "config.json" : fs::path(run_config);
  std::error_code ec;
  if (run_config.empty() && !fs::exists(config_path, ec)) return sampler;
  const core::Json json = core::read_json_file(config_path);
  if (!json.contains("run") || !json["run"].contains("sampler")) {
    if (!run_config.empty()) {
      throw core::FormatError(fmt::format("{}: no \"run\".\"sampler\" (expected a pretrain run's config.json)",
                                          config_path.string()));
    }
    return sampler;
  }
  core::config_from_json(json["run"]["sampler"], sampler, config_path.string() + ": run.sampler");
  core::log_info("eval: sampler of {} (frames {}x{}, crop {}x{})", config_path.string(), sampler.frame_width,
                 sampler.frame_height, sampler.crop_width, sampler.crop_height);
  return sampler;
}

void add_model_run_options(CLI::App* sub, ModelRunOptions& run) {
  sub->add_option("--model", run.model, "vl-model checkpoint, or a pretrain run folder (its model.safetensors)")
      ->required();
  sub->add_option("--vocab", run.vocab, "WordPiece vocab.txt (default: the vocab.txt beside the model, else all-MiniLM-L6-v2's, found with --python)");
  sub->add_option("--python", run.python, "The venv's Python, to locate the default vocabulary")->capture_default_str();
  sub->add_option("--batch-size", run.batch_size, "Clips per batch")->check(core::positive_integer())->capture_default_str();
  sub->add_option("--workers", run.workers, "Data-loading threads")->check(core::positive_integer())->capture_default_str();
  sub->add_option("--resolution", run.resolution, "Sampler mode 720p, 360p or 180p (default: the preset's)")
      ->check(CLI::IsMember({"720p", "360p", "180p"}));
  sub->add_option("--run-config", run.run_config,
                  "A pretrain run's config.json whose sampler geometry to use (default: config.json beside the model, "
                  "else the preset's)");
}

// The model of --model on `device`, the sampler geometry it was trained with and its tokenizer.
struct ModelRun {
  fs::path path;
  models::VLModel model{nullptr};
  ClipSamplerConfig sampler;
  models::Tokenizer tokenizer;
};

ModelRun load_model_run(const ModelRunOptions& options, const c10::Device& device) {
  fs::path path = options.model;
  if (fs::is_directory(path)) path /= "model.safetensors";
  const core::CheckpointInfo info = core::read_checkpoint_info(path);
  models::VLModel model = models::load_vl_model(path);
  model->to(device);
  ClipSamplerConfig sampler = trained_sampler(path, info.preset, options.run_config);
  sampler.segments = static_cast<int>(model->config().segments);
  sampler.frames = model->config().video.frames;
  if (!options.resolution.empty()) sampler.resolution = options.resolution;
  sampler.validate();
  // Like the guides: --vocab, else the vocab.txt beside the model (a run folder's), else MiniLM's.
  const fs::path vocab = options.vocab.empty() ? gen::vocab_for_model(path, options.python) : fs::path(options.vocab);
  models::Tokenizer tokenizer(vocab);
  if (tokenizer.vocab_size() != model->config().text.vocab_size) {
    throw core::FormatError(fmt::format("vocabulary {}: {} tokens, but the text tower of {} has a vocabulary of {}{}",
                                        vocab.string(), tokenizer.vocab_size(), path.string(),
                                        model->config().text.vocab_size, options.vocab.empty() ? "; pass --vocab FILE" : ""));
  }
  return {path, model, sampler, std::move(tokenizer)};
}

void print_report(const RetrievalReport& report) {
  auto line = [](const char* name, const RetrievalScores& s) {
    std::printf("%-12s R@1 %5.1f  R@5 %5.1f  R@10 %5.1f  MdR %6.1f  MnR %7.1f  (%lld queries)\n", name, s.r1, s.r5,
                s.r10, s.median_rank, s.mean_rank, static_cast<long long>(s.queries));
  };
  std::printf("%lld clips, %lld captions", static_cast<long long>(report.clips), static_cast<long long>(report.texts));
  if (report.skipped > 0) std::printf(", %lld unreadable clips left out", static_cast<long long>(report.skipped));
  std::printf(" (chance R@1 %.2f%%)\n", report.clips > 0 ? 100.0 / double(report.clips) : 0.0);
  line("text->video", report.text_to_video);
  line("video->text", report.video_to_text);
  if (!report.attributes.empty()) {
    std::printf("text->video top-1 clip shares the query's attribute:\n");
    for (const auto& a : report.attributes) {
      std::printf("  %-11s %5.1f%%  (chance %5.1f%%)\n", a.group.c_str(), a.accuracy, a.chance);
    }
  }
  if (!report.probes.empty()) {
    std::printf("attribute probes (one-object clips; the true caption against the same caption with that value swapped):\n");
    for (const auto& p : report.probes) {
      std::printf("  %-11s %5.1f%%  (chance %5.1f%%, %lld clips, %lld left out)\n", p.attribute.c_str(), p.accuracy,
                  p.chance, static_cast<long long>(p.clips), static_cast<long long>(p.left_out));
    }
  }
}

void add_eval(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  auto options = std::make_shared<EvalOptions_>();
  CLI::App* sub = app.add_subcommand("eval", "Zero-shot text<->video retrieval of a VL model on a dataset split");
  add_model_run_options(sub, options->run);
  add_data_options(sub, options->data, "test");
  sub->add_option("--text-field", options->data.text_field,
                  "Caption field of clip_text.jsonl (of a list, the first: text_zh measures Chinese retrieval)")
      ->capture_default_str();
  sub->add_option("--json", options->json, "Write the numbers to this JSON file");
  commands.push_back({sub, [options, &common] {
    core::apply_common_options(common);
    const c10::Device device = core::resolve_device(common.device);
    auto [model_path, model, sampler, tokenizer] = load_model_run(options->run, device);
    Dataset dataset = load_dataset(options->data);
    core::log_info("eval: {} on {} clips of {} ({})", model_path.string(), dataset.clips.size(),
                   dataset.root.string(), dataset.format);
    core::ConsoleProgress progress("encoding clips", "clips");
    EvalOptions eval;
    eval.batch_size = options->run.batch_size;
    eval.workers = options->run.workers;
    eval.device = device;
    eval.progress = progress.callback();
    RetrievalReport report = evaluate_retrieval(*model, tokenizer, dataset, ClipSampler(sampler), eval);
    progress.finish();
    print_report(report);
    if (!options->json.empty()) {
      core::Json out = report.to_json();
      out["model"] = model_path.string();
      out["data"] = {{"path", options->data.path.string()}, {"split", options->data.split}, {"format", dataset.format}};
      core::write_json_file(options->json, out);
    }
  }});
}

struct StageProbeOptions_ {
  ModelRunOptions run;
  DataSpec data;
  std::string fit_split = "train";
  std::string json;
  SupervisedTowerOptions supervise;
};

void print_stage_probes(const StageProbeReport& report) {
  std::vector<std::string> attributes;
  for (const auto& s : report.scores) {
    if (std::find(attributes.begin(), attributes.end(), s.attribute) == attributes.end()) attributes.push_back(s.attribute);
  }
  std::printf("linear probes, %lld one-object clips fitted, %lld scored (percent right):\n",
              static_cast<long long>(report.fit_clips), static_cast<long long>(report.test_clips));
  std::printf("  %-14s %6s", "stage", "dims");
  for (const auto& a : attributes) std::printf(" %10s", a.c_str());
  std::printf("\n");
  for (const auto& stage : report.stages) {
    int64_t dims = 0;
    std::string cells;
    for (const auto& a : attributes) {
      auto it = std::find_if(report.scores.begin(), report.scores.end(),
                             [&](const StageProbeScore& s) { return s.stage == stage && s.attribute == a; });
      if (it == report.scores.end()) {
        cells += fmt::format(" {:>10}", "-");
      } else {
        dims = it->dims;
        cells += fmt::format(" {:>10.1f}", it->accuracy);
      }
    }
    std::printf("  %-14s %6lld%s\n", stage.c_str(), static_cast<long long>(dims), cells.c_str());
  }
  std::printf("  %-14s %6s", "chance", "");
  for (const auto& a : attributes) {
    auto it = std::find_if(report.scores.begin(), report.scores.end(), [&](const StageProbeScore& s) { return s.attribute == a; });
    std::printf(" %10.1f", it->chance);
  }
  std::printf("\n");
}

void add_stage_probes(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  auto options = std::make_shared<StageProbeOptions_>();
  CLI::App* sub = app.add_subcommand(
      "stage-probes", "Linear probes of SynthVid attributes on every stage of a VL model's video tower");
  add_model_run_options(sub, options->run);
  add_data_options(sub, options->data, "test");
  sub->get_option("--split")->description("Split the probes are scored on");
  sub->add_option("--fit-split", options->fit_split, "Split the probes are fitted on")->capture_default_str();
  sub->add_option("--json", options->json, "Write the table to this JSON file");
  sub->add_option("--train-steps", options->supervise.steps,
                  "First train the video tower end to end on the fit split's labels for this many steps (a linear "
                  "head per attribute on the embedding), then probe: can the input path carry the attributes? "
                  "(default 0: probe the model as it is)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--train-lr", options->supervise.lr, "AdamW learning rate of the tower with --train-steps (heads: 10x)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  commands.push_back({sub, [options, &common] {
    core::apply_common_options(common);
    const c10::Device device = core::resolve_device(common.device);
    auto [model_path, model, sampler, tokenizer] = load_model_run(options->run, device);
    DataSpec fit_spec = options->data;
    fit_spec.split = options->fit_split;
    const Dataset fit = load_dataset(fit_spec);
    const Dataset test = load_dataset(options->data);
    core::log_info("stage-probes: {} fitted on {} ({} clips), scored on {} ({} clips)", model_path.string(),
                   options->fit_split, fit.clips.size(), options->data.split, test.clips.size());
    std::vector<SupervisedTowerTick> ticks;
    if (options->supervise.steps > 0) {
      SupervisedTowerOptions supervise = options->supervise;
      supervise.batch_size = options->run.batch_size;
      supervise.workers = options->run.workers;
      supervise.device = device;
      ticks = supervise_video_tower(*model, tokenizer, fit, ClipSampler(sampler), supervise,
                                    [&](const SupervisedTowerTick& t) {
                                      std::string accuracy;
                                      for (const auto& [name, value] : t.accuracy) accuracy += fmt::format(" {} {:.1f}", name, value);
                                      core::log_info("stage-probes: supervised step {}/{} | loss {:.4f} | train acc{} | "
                                                     "{:.1f} clips/s",
                                                     t.step, supervise.steps, t.loss, accuracy, t.clips_per_second);
                                    });
    }
    core::ConsoleProgress progress("encoding clips", "clips");
    StageProbeOptions probe;
    probe.batch_size = options->run.batch_size;
    probe.workers = options->run.workers;
    probe.device = device;
    probe.progress = progress.callback();
    StageProbeReport report = stage_probes(*model, tokenizer, fit, test, ClipSampler(sampler), probe);
    progress.finish();
    print_stage_probes(report);
    core::log_info("stage-probes: {:.1f} s", report.seconds);
    if (!options->json.empty()) {
      core::Json out = report.to_json();
      out["model"] = model_path.string();
      if (!ticks.empty()) {
        core::Json log = core::Json::array();
        for (const SupervisedTowerTick& t : ticks) {
          core::Json accuracy = core::Json::object();
          for (const auto& [name, value] : t.accuracy) accuracy[name] = value;
          log.push_back(core::Json{{"step", t.step}, {"loss", t.loss}, {"train_accuracy", accuracy},
                         {"clips_per_second", t.clips_per_second}});
        }
        out["supervised"] = core::Json{{"steps", options->supervise.steps}, {"lr", options->supervise.lr}, {"log", log}};
      }
      out["data"] = {{"path", options->data.path.string()}, {"fit_split", options->fit_split},
                     {"split", options->data.split}, {"format", test.format}};
      core::write_json_file(options->json, out);
    }
  }});
}

}  // namespace

void add_pretrain_commands(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  add_pretrain(app, common, commands);
  add_eval(app, common, commands);
  add_stage_probes(app, common, commands);
}

}  // namespace hdv::train
