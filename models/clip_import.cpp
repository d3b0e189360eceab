// OpenCLIP / Hugging Face CLIP weights into ClipModel (see clip_import.h).
#include "models/clip_import.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/shape_text.h"

namespace hdv::models {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kHeadWidth = 64;  // OpenAI / OpenCLIP ViT and text towers

// Where one of our tensors comes from: the file tensors concatenated along dim 0, maybe transposed.
struct Source {
  std::vector<std::string> names;
  bool transpose = false;
};

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Number of blocks "<prefix><i>." in the file (the highest i + 1).
int64_t count_blocks(const core::SafetensorsFile& file, std::string_view prefix) {
  int64_t count = 0;
  for (const core::TensorEntry& entry : file.entries()) {
    if (!starts_with(entry.name, prefix)) continue;
    const std::string rest = entry.name.substr(prefix.size());
    const size_t dot = rest.find('.');
    const std::string digits = rest.substr(0, dot);
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    count = std::max<int64_t>(count, std::stoll(digits) + 1);
  }
  return count;
}

const std::vector<int64_t>& shape_of(const core::SafetensorsFile& file, const std::string& name) {
  if (!file.contains(name)) {
    throw core::FormatError(fmt::format("{}: no tensor \"{}\"; expected an OpenCLIP or Hugging Face CLIPModel state "
                                        "dict of a ViT CLIP",
                                        file.path().string(), name));
  }
  return file.entry(name).shape;
}

// Names of our model's tensors under Hugging Face CLIPModel's layout.
Source hf_source(const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> kFixed = {
      {"visual.conv1.weight", "vision_model.embeddings.patch_embedding.weight"},
      {"visual.class_embedding", "vision_model.embeddings.class_embedding"},
      {"visual.positional_embedding", "vision_model.embeddings.position_embedding.weight"},
      {"visual.ln_pre.weight", "vision_model.pre_layrnorm.weight"},
      {"visual.ln_pre.bias", "vision_model.pre_layrnorm.bias"},
      {"visual.ln_post.weight", "vision_model.post_layernorm.weight"},
      {"visual.ln_post.bias", "vision_model.post_layernorm.bias"},
      {"token_embedding.weight", "text_model.embeddings.token_embedding.weight"},
      {"positional_embedding", "text_model.embeddings.position_embedding.weight"},
      {"ln_final.weight", "text_model.final_layer_norm.weight"},
      {"ln_final.bias", "text_model.final_layer_norm.bias"},
      {"logit_scale", "logit_scale"},
  };
  for (const auto& [ours, theirs] : kFixed) {
    if (name == ours) return {{theirs}};
  }
  if (name == "visual.proj") return {{"visual_projection.weight"}, true};
  if (name == "text_projection") return {{"text_projection.weight"}, true};
  // "<tower>transformer.resblocks.<i>.<rest>"
  const bool visual = starts_with(name, "visual.");
  const std::string tower = visual ? "vision_model.encoder.layers." : "text_model.encoder.layers.";
  const std::string blocks = visual ? "visual.transformer.resblocks." : "transformer.resblocks.";
  if (!starts_with(name, blocks)) return {};
  const std::string rest = name.substr(blocks.size());  // "3.attn.in_proj_weight"
  const std::string index = rest.substr(0, rest.find('.'));
  const std::string field = rest.substr(index.size() + 1);
  const std::string layer = tower + index + ".";
  if (field == "attn.in_proj_weight" || field == "attn.in_proj_bias") {
    const std::string kind = field == "attn.in_proj_weight" ? "weight" : "bias";
    return {{layer + "self_attn.q_proj." + kind, layer + "self_attn.k_proj." + kind, layer + "self_attn.v_proj." + kind}};
  }
  static const std::vector<std::pair<std::string, std::string>> kBlock = {
      {"attn.out_proj.", "self_attn.out_proj."}, {"ln_1.", "layer_norm1."}, {"ln_2.", "layer_norm2."},
      {"mlp.c_fc.", "mlp.fc1."},                 {"mlp.c_proj.", "mlp.fc2."},
  };
  for (const auto& [ours, theirs] : kBlock) {
    if (starts_with(field, ours)) return {{layer + theirs + field.substr(ours.size())}};
  }
  return {};
}

// Heads per tower from a Hugging Face config.json beside the weights, when there is one.
struct HfConfigHints {
  int64_t vision_heads = 0, text_heads = 0;
  bool quick_gelu = false;
  bool found = false;
};

HfConfigHints hf_config_hints(const fs::path& weights) {
  HfConfigHints hints;
  const fs::path config_path = weights.parent_path() / "config.json";
  std::error_code ec;
  if (!fs::is_regular_file(config_path, ec)) return hints;
  const core::Json config = core::read_json_file(config_path);
  hints.found = true;
  const auto read_tower = [&](const char* key, int64_t& heads) {
    if (!config.contains(key) || !config[key].is_object()) return;
    const core::Json& tower = config[key];
    if (tower.contains("num_attention_heads") && tower["num_attention_heads"].is_number_integer()) {
      heads = tower["num_attention_heads"].get<int64_t>();
    }
    if (tower.contains("hidden_act") && tower["hidden_act"] == "quick_gelu") hints.quick_gelu = true;
  };
  read_tower("vision_config", hints.vision_heads);
  read_tower("text_config", hints.text_heads);
  return hints;
}

}  // namespace

ClipImport import_clip_weights(const fs::path& path, bool quick_gelu) {
  const core::SafetensorsFile file = core::SafetensorsFile::open(path);
  const bool hf = file.contains("vision_model.embeddings.patch_embedding.weight");
  std::string prefix;  // OpenCLIP checkpoints saved from DistributedDataParallel carry "module."
  if (!hf && !file.contains("visual.conv1.weight") && file.contains("module.visual.conv1.weight")) prefix = "module.";
  const auto name_in_file = [&](const std::string& name) { return prefix + name; };

  // The architecture, from the shapes.
  ClipConfig config;
  const std::vector<int64_t>& patch =
      shape_of(file, hf ? "vision_model.embeddings.patch_embedding.weight" : name_in_file("visual.conv1.weight"));
  const std::vector<int64_t>& vision_positions =
      shape_of(file, hf ? "vision_model.embeddings.position_embedding.weight" : name_in_file("visual.positional_embedding"));
  const std::vector<int64_t>& tokens =
      shape_of(file, hf ? "text_model.embeddings.token_embedding.weight" : name_in_file("token_embedding.weight"));
  const std::vector<int64_t>& text_positions =
      shape_of(file, hf ? "text_model.embeddings.position_embedding.weight" : name_in_file("positional_embedding"));
  const std::vector<int64_t>& projection =
      shape_of(file, hf ? "visual_projection.weight" : name_in_file("visual.proj"));
  if (patch.size() != 4 || patch[1] != 3 || patch[2] != patch[3] || vision_positions.size() != 2 ||
      tokens.size() != 2 || text_positions.size() != 2 || projection.size() != 2) {
    throw core::FormatError(fmt::format(
        "{}: not a ViT CLIP: patch embedding {}, image positions {}, token embedding {}, text positions {}, visual "
        "projection {} (expected [W, 3, P, P], [N, W], [V, T], [L, T], and a matrix)",
        path.string(), core::shape_text(patch), core::shape_text(vision_positions), core::shape_text(tokens),
        core::shape_text(text_positions), core::shape_text(projection)));
  }
  const int64_t grid = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(vision_positions[0] - 1))));
  if (grid * grid + 1 != vision_positions[0]) {
    throw core::FormatError(fmt::format("{}: {} image positions is not a square grid plus the class token",
                                        path.string(), vision_positions[0]));
  }
  const HfConfigHints hints = hf ? hf_config_hints(path) : HfConfigHints{};
  config.quick_gelu = quick_gelu || hints.quick_gelu;
  config.vision.width = patch[0];
  config.vision.patch_size = patch[2];
  config.vision.image_size = grid * patch[2];
  config.vision.layers = count_blocks(file, hf ? "vision_model.encoder.layers." : name_in_file("visual.transformer.resblocks."));
  config.vision.heads = hints.vision_heads > 0 ? hints.vision_heads : std::max<int64_t>(1, config.vision.width / kHeadWidth);
  config.embed_dim = hf ? projection[0] : projection[1];
  config.text.vocab_size = tokens[0];
  config.text.width = tokens[1];
  config.text.context_length = text_positions[0];
  config.text.layers = count_blocks(file, hf ? "text_model.encoder.layers." : name_in_file("transformer.resblocks."));
  config.text.heads = hints.text_heads > 0 ? hints.text_heads : std::max<int64_t>(1, config.text.width / kHeadWidth);
  try {
    config.validate();
  } catch (const core::ConfigError& e) {
    throw core::FormatError(fmt::format("{}: the architecture its shapes describe is invalid: {}", path.string(), e.what()));
  }

  ClipImport result;
  result.layout = hf ? "Hugging Face CLIPModel" : "OpenCLIP";
  const bool base = config.vision.width == 768 && config.vision.layers == 12 && config.text.width == 512 &&
                    config.text.layers == 12 && config.embed_dim == 512 && config.vision.image_size == 224;
  result.arch = base && (config.vision.patch_size == 32 || config.vision.patch_size == 16)
                    ? fmt::format("ViT-B/{}", config.vision.patch_size)
                    : fmt::format("ViT-{}/{} (custom: {} px, {} + {} layers)", config.vision.width,
                                  config.vision.patch_size, config.vision.image_size, config.vision.layers,
                                  config.text.layers);
  result.model = ClipModel(config);

  // Copy, collecting every problem.
  std::vector<std::string> problems;
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  std::vector<std::pair<std::string, at::Tensor>> targets;
  for (auto& item : result.model->named_parameters(/*recurse=*/true)) targets.emplace_back(item.key(), item.value());
  for (const auto& [name, target] : targets) {
    const Source source = hf ? hf_source(name) : Source{{name_in_file(name)}};
    if (source.names.empty()) {
      problems.push_back(fmt::format("no source for \"{}\"", name));
      continue;
    }
    std::vector<at::Tensor> parts;
    for (const std::string& from : source.names) {
      if (!file.contains(from)) {
        problems.push_back(fmt::format("missing \"{}\"", from));
        continue;
      }
      used.insert(from);
      parts.push_back(file.tensor(from).to(torch::kFloat));
    }
    if (parts.size() != source.names.size()) continue;
    at::Tensor value = parts.size() == 1 ? parts[0] : torch::cat(parts, 0);
    if (source.transpose) value = value.t();
    if (name == "logit_scale") value = value.reshape({});  // [] in OpenCLIP, [] or [1] elsewhere
    if (value.sizes() != target.sizes()) {
      problems.push_back(fmt::format("\"{}\" is {}, expected {} (for \"{}\")", fmt::join(source.names, "\" + \""),
                                     core::shape_text(value.sizes()), core::shape_text(target.sizes()), name));
      continue;
    }
    target.copy_(value);
  }
  for (const core::TensorEntry& entry : file.entries()) {
    if (used.count(entry.name) != 0) continue;
    const std::string& name = entry.name;
    if (name.ends_with("position_ids") || name == prefix + "attn_mask") {
      ++result.skipped;
      continue;
    }
    problems.push_back(fmt::format("unused \"{}\" {}", name, core::shape_text(entry.shape)));
  }
  if (!problems.empty()) {
    throw core::FormatError(fmt::format("{}: {} problem{} importing it as a {} {}: {}", path.string(), problems.size(),
                                        problems.size() == 1 ? "" : "s", result.layout, result.arch,
                                        fmt::join(problems, "; ")));
  }
  result.tensors = static_cast<int64_t>(used.size());
  result.model->eval();
  return result;
}

}  // namespace hdv::models
