#include "models/hdvila_import.h"

#include <torch/torch.h>

#include <algorithm>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/shape_text.h"

namespace hdv::models {

namespace fs = std::filesystem;

namespace {

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// Official prefix -> ours; the rest of the name is the same on both sides.
struct Rename {
  std::string_view official, ours;
};
constexpr Rename kRenames[] = {
    {"cnn.", "video.hr_backbone."},
    {"cnn_low.", "video.lr_backbone."},
    {"grid_encoder.0.", "video.hr_proj."},
    {"grid_encoder_low.0.", "video.grid_encoder_low."},
    {"grid_encoder_combine.0.", "video.fuse."},
    {"timesformer.pos_embed", "video.pos_embed"},
    {"timesformer.time_embed", "video.time_embed"},
    {"timesformer.blocks.", "video.blocks."},
    {"transformer.bert.embeddings.", "bert.embeddings."},
    {"transformer.bert.encoder.", "bert.encoder."},
    {"transformer.bert.pooler1.", "bert.pooler."},
    {"transformer.bert.visual_embeddings.row_position_embeddings.", "visual_embeddings.row_embeddings."},
    {"transformer.bert.visual_embeddings.col_position_embeddings.", "visual_embeddings.col_embeddings."},
    {"transformer.bert.visual_embeddings.token_type_embeddings.", "visual_embeddings.type_embeddings."},
    {"transformer.bert.visual_embeddings.LayerNorm.", "visual_embeddings.LayerNorm."},
    {"transformer.t_proj.", "text_proj."},
    {"transformer.v_proj.", "video_proj."},
    {"transformer.cls.predictions.transform.", "mlm.transform."},
    {"transformer.cls.predictions.decoder.weight", "mlm.decoder.weight"},
    {"transformer.cls.predictions.bias", "mlm.bias"},
};

// Official tensors the released model registers but never computes with (or keeps twice).
struct Dead {
  std::string_view official, why;
};
constexpr Dead kDead[] = {
    {"timesformer.norm.", "TimeSformer registers a final LayerNorm that its forward never applies"},
    {"transformer.bert.visual_embeddings.position_embeddings.",
     "registered but unused: HD-VILA's visual embeddings add only row, column and type embeddings"},
    {"transformer.bert.pooler2.",
     "the video-text matching pooler, untrained in HD-VILA's pre-training (use_itm 0); our vtm head reads the "
     "first token without it"},
    {"transformer.cls.seq_relationship.", "the video-text matching classifier over pooler2 (untrained: use_itm 0)"},
    {"transformer.cls.predictions.decoder.bias",
     "the same parameter as transformer.cls.predictions.bias, saved under a second name"},
};

constexpr std::string_view kCrossModalModules[] = {"transformer.bert.visual_embeddings.", "transformer.cls.",
                                                   "transformer.bert.pooler2."};

// The number after `prefix` in `name` ("cnn.layer2.3.conv1.weight", "cnn.layer2." -> 3), or -1.
int64_t index_after(const std::string& name, std::string_view prefix) {
  if (!starts_with(name, prefix)) return -1;
  const size_t begin = prefix.size(), end = name.find('.', begin);
  if (end == begin || end == std::string::npos) return -1;
  const std::string digits = name.substr(begin, end - begin);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return -1;
  return std::stoll(digits);
}

std::string geometry_text(const std::vector<int64_t>& layers, int64_t base, int64_t in, int64_t vocab, int64_t text_hidden,
                          const std::string& bert_layers, int64_t video_hidden, int64_t depth, int64_t tokens,
                          int64_t frames) {
  return fmt::format(
      "ResNet blocks [{}], stem width {}, {} input channels; BERT vocab {}, hidden {}, {}; video hidden {}, {} "
      "space-time blocks, {} grid tokens, {} frames",
      fmt::join(layers, ", "), base, in, vocab, text_hidden, bert_layers, video_hidden, depth, tokens, frames);
}

}  // namespace

ImportTargets import_targets(VLModelImpl& model) {
  ImportTargets targets;
  for (const auto& item : model.named_parameters()) {
    targets[item.key()] = {item.value().sizes().vec(), item.value().scalar_type()};
  }
  for (const auto& item : model.named_buffers()) {
    targets[item.key()] = {item.value().sizes().vec(), item.value().scalar_type()};
  }
  return targets;
}

HdvilaFileGeometry hdvila_file_geometry(const std::vector<core::TensorEntry>& entries) {
  HdvilaFileGeometry geometry;
  geometry.backbone_layers.assign(4, 0);
  int64_t bert_layers = -1, depth = -1;
  for (const core::TensorEntry& entry : entries) {
    const std::string& name = entry.name;
    for (int stage = 1; stage <= 4; ++stage) {
      const int64_t block = index_after(name, fmt::format("cnn.layer{}.", stage));
      if (block >= 0) geometry.backbone_layers[stage - 1] = std::max(geometry.backbone_layers[stage - 1], block + 1);
    }
    if (name == "cnn.conv1.weight" && entry.shape.size() == 4) {
      geometry.base_width = entry.shape[0];
      geometry.in_channels = entry.shape[1];
    }
    if (name == "transformer.bert.embeddings.word_embeddings.weight" && entry.shape.size() == 2) {
      geometry.vocab = entry.shape[0];
      geometry.text_hidden = entry.shape[1];
    }
    if (name == "timesformer.pos_embed" && entry.shape.size() == 3) {
      geometry.grid_tokens = entry.shape[1];
      geometry.video_hidden = entry.shape[2];
    }
    if (name == "timesformer.time_embed" && entry.shape.size() == 3) geometry.frames = entry.shape[1];
    bert_layers = std::max(bert_layers, index_after(name, "transformer.bert.encoder.layer."));
    depth = std::max(depth, index_after(name, "timesformer.blocks."));
    geometry.lr_layer4 = geometry.lr_layer4 || starts_with(name, "cnn_low.layer4.");
    for (std::string_view prefix : kCrossModalModules) {
      if (starts_with(name, prefix)) geometry.stage = 2;
    }
  }
  geometry.bert_layers = bert_layers + 1;
  geometry.depth = depth + 1;
  if (geometry.stage == 0) geometry.stage = 1;
  return geometry;
}

HdvilaPlan plan_hdvila_import(const std::vector<core::TensorEntry>& entries, const VLConfig& config,
                              const ImportTargets& targets, const std::string& file_name) {
  const HdvilaFileGeometry file = hdvila_file_geometry(entries);
  if (file.vocab == 0) {
    throw core::FormatError(fmt::format(
        "{}: not an HD-VILA checkpoint: no tensor \"transformer.bert.embeddings.word_embeddings.weight\" among its {}",
        file_name, entries.size()));
  }
  // A stage-1 file holds the text layers only; a stage-2 file every BERT layer.
  const int64_t expected_layers = file.stage == 2 ? config.text.layers : config.text_layers;
  const ResNetConfig& backbone = config.video.backbone;
  const VideoEncoderConfig& video = config.video;
  const std::vector<int64_t> backbone_layers(backbone.layers.begin(), backbone.layers.end());
  const bool fits = file.backbone_layers == backbone_layers && file.base_width == backbone.base_width &&
                    file.in_channels == backbone.in_channels && file.vocab == config.text.vocab_size &&
                    file.text_hidden == config.text.hidden && file.bert_layers == expected_layers &&
                    file.video_hidden == video.hidden && file.depth == video.depth &&
                    file.grid_tokens == int64_t{video.grid_height} * video.grid_width && file.frames == video.frames;
  if (!fits) {
    throw core::FormatError(fmt::format(
        "{}: an HD-VILA stage-{} checkpoint with {} does not fit the model ({}); the released checkpoints fit the "
        "hdvila-base preset",
        file_name, file.stage,
        geometry_text(file.backbone_layers, file.base_width, file.in_channels, file.vocab, file.text_hidden,
                      fmt::format("{} layers", file.bert_layers), file.video_hidden, file.depth, file.grid_tokens,
                      file.frames),
        geometry_text(backbone_layers, backbone.base_width, backbone.in_channels, config.text.vocab_size,
                      config.text.hidden,
                      fmt::format("{} text layers + {} cross-modal (a stage-{} file holds {})", config.text_layers,
                                  config.text.layers - config.text_layers, file.stage, expected_layers),
                      video.hidden, video.depth, int64_t{video.grid_height} * video.grid_width, video.frames)));
  }

  HdvilaPlan plan;
  plan.stage = file.stage;
  std::set<std::string> claimed;
  for (const core::TensorEntry& entry : entries) {
    const std::string& name = entry.name;
    const auto dead = std::find_if(std::begin(kDead), std::end(kDead),
                                   [&](const Dead& d) { return starts_with(name, d.official); });
    if (dead != std::end(kDead)) {
      plan.dropped.push_back(fmt::format("{}: {}", name, dead->why));
      continue;
    }
    if (video.lr_last_stage < 4 && starts_with(name, "cnn_low.layer4.")) {
      plan.dropped.push_back(fmt::format("{}: the LR path stops after layer3 (video.lr_last_stage 3)", name));
      continue;
    }
    const auto rename = std::find_if(std::begin(kRenames), std::end(kRenames),
                                     [&](const Rename& r) { return starts_with(name, r.official); });
    if (rename == std::end(kRenames)) {
      plan.problems.push_back(fmt::format("unexpected \"{}\" {} (no counterpart in HD-VILA's model)", name,
                                          core::shape_text(entry.shape)));
      continue;
    }
    const std::string ours = std::string(rename->ours) + name.substr(rename->official.size());
    const auto target = targets.find(ours);
    if (target == targets.end()) {
      if (starts_with(ours, "mlm.") && !config.mlm_head) {
        plan.dropped.push_back(fmt::format("{}: the model has no MLM head (mlm_head false)", name));
        continue;
      }
      plan.problems.push_back(fmt::format("\"{}\" {} maps to \"{}\", which the model does not have", name,
                                          core::shape_text(entry.shape), ours));
      continue;
    }
    if (target->second.shape != entry.shape) {
      plan.problems.push_back(fmt::format("\"{}\" has shape {}, expected {} (for \"{}\")", name,
                                          core::shape_text(entry.shape), core::shape_text(target->second.shape), ours));
    }
    if (auto problem = core::conversion_problem(entry.dtype, target->second.dtype)) {
      plan.problems.push_back(fmt::format("\"{}\" {}", name, *problem));
    }
    plan.copies.emplace_back(name, ours);
    claimed.insert(ours);
  }

  // Ours that the file does not give.
  for (const auto& [name, target] : targets) {
    if (claimed.count(name) != 0) continue;
    if (name == "video.grid_encoder_low.bias" || name == "video.fuse.bias") {
      plan.zero_filled.push_back(name);  // the official 1x1 convs have no bias
      continue;
    }
    if (starts_with(name, "vtm.")) {
      plan.not_in_file.push_back(name);  // HD-VILA's matching head is dropped above: ours keeps its init
      continue;
    }
    const int64_t layer = index_after(name, "bert.encoder.layer.");
    const bool cross_modal = layer >= config.text_layers || starts_with(name, "visual_embeddings.") ||
                             starts_with(name, "mlm.");
    if (plan.stage == 1 && cross_modal) {
      plan.not_in_file.push_back(name);
      continue;
    }
    plan.problems.push_back(
        fmt::format("missing \"{}\" {} (HD-VILA stage-{} files have it)", name, core::shape_text(target.shape), plan.stage));
  }
  return plan;
}

HdvilaImport import_hdvila(VLModelImpl& model, const fs::path& safetensors, bool text_tower_preloaded) {
  const core::SafetensorsFile file = core::SafetensorsFile::open(safetensors);
  HdvilaImport result;
  result.plan = plan_hdvila_import(file.entries(), model.config(), import_targets(model), safetensors.string());
  const HdvilaPlan& plan = result.plan;
  if (!plan.problems.empty()) {
    throw core::FormatError(fmt::format("{}: {} problem{} importing an HD-VILA stage-{} checkpoint: {}",
                                        safetensors.string(), plan.problems.size(), plan.problems.size() == 1 ? "" : "s",
                                        plan.stage, fmt::join(plan.problems, "; ")));
  }

  std::map<std::string, at::Tensor> ours;
  for (const auto& item : model.named_parameters()) ours.emplace(item.key(), item.value());
  for (const auto& item : model.named_buffers()) ours.emplace(item.key(), item.value());

  torch::NoGradGuard no_grad;
  for (const auto& [official, name] : plan.copies) ours.at(name).copy_(file.tensor(official));
  for (const std::string& name : plan.zero_filled) ours.at(name).zero_();

  if (file.contains("transformer.cls.predictions.decoder.bias") && file.contains("transformer.cls.predictions.bias") &&
      !torch::equal(file.tensor("transformer.cls.predictions.decoder.bias"),
                    file.tensor("transformer.cls.predictions.bias"))) {
    result.notes.push_back(
        "transformer.cls.predictions.decoder.bias differs from transformer.cls.predictions.bias (one parameter in "
        "HD-VILA's model): the latter was used");
  }
  if (plan.stage == 1) {
    const VLConfig& config = model.config();
    const int64_t imported = config.text_layers, extra = config.text.layers - config.text_layers;
    if (text_tower_preloaded) {
      result.notes.push_back(fmt::format(
          "stage-1 file: cross-modal layers {}-{} kept from --bert (HD-VILA's stage 2 starts them from BERT-large)",
          imported, config.text.layers - 1));
    } else if (extra > 0) {
      // As import_text_tower does: a trained block is a better start than random.
      const int64_t window = std::min(extra, imported), from = imported - window;
      for (int64_t j = 0; j < extra; ++j) {
        auto source = model.bert->encoder->layer[from + j % window]->named_parameters();
        for (auto& item : model.bert->encoder->layer[imported + j]->named_parameters()) item.value().copy_(source[item.key()]);
      }
      result.notes.push_back(fmt::format(
          "stage-1 file: cross-modal layers {}-{} start as copies of text layers {}-{} (give --bert with BERT-large "
          "for HD-VILA's own stage-2 start)",
          imported, config.text.layers - 1, from, imported - 1));
    }
    if (model.mlm) {
      model.mlm->decoder->weight.copy_(model.bert->embeddings->word_embeddings->weight);
      model.mlm->bias.zero_();
      result.notes.push_back(
          "stage-1 file: MLM decoder set to the imported word embeddings (as HD-VILA clones them), bias 0; its "
          "transform keeps its initialisation");
    }
    if (model.visual_embeddings) {
      result.notes.push_back("stage-1 file: visual_embeddings keep their initialisation (HD-VILA's stage 2 starts them "
                             "from init too)");
    }
  }
  return result;
}

}  // namespace hdv::models
