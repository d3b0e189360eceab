// StyleGAN2 generators trained elsewhere (see stylegan_import.h).
#include "generation/stylegan_import.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/config.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/shape_text.h"
#include "generation/generator_checkpoint.h"

namespace hdv::gen {

namespace {

namespace fs = std::filesystem;
using TensorMap = std::map<std::string, at::Tensor>;

struct Source {
  TensorMap tensors;
  core::Json info;
};

Source read_raw(const fs::path& raw, const fs::path& original) {
  const core::SafetensorsFile file = core::SafetensorsFile::open(raw);
  const auto found = file.metadata().find("stylegan_source");
  if (found == file.metadata().end()) {
    throw core::FormatError(fmt::format(
        "{}: no \"stylegan_source\" metadata: not written by scripts/convert_stylegan_pkl.py", original.string()));
  }
  Source source;
  source.info = core::parse_json(found->second, original.string() + " stylegan_source");
  for (const core::TensorEntry& entry : file.entries()) source.tensors[entry.name] = file.tensor(entry.name).clone();
  return source;
}

const at::Tensor* find(const TensorMap& tensors, const std::string& name) {
  const auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}

const at::Tensor& need(const TensorMap& tensors, const std::string& name, const fs::path& original) {
  const at::Tensor* tensor = find(tensors, name);
  if (tensor == nullptr) {
    throw core::FormatError(fmt::format("{}: tensor \"{}\" is missing: not a StyleGAN2 generator of the expected "
                                        "layout", original.string(), name));
  }
  return *tensor;
}

int64_t dim_of(const at::Tensor& tensor, int64_t dim, const std::string& name, int64_t rank, const fs::path& original) {
  if (tensor.dim() != rank) {
    throw core::FormatError(fmt::format("{}: tensor \"{}\" has shape {}, expected {} dimensions", original.string(),
                                        name, core::shape_text(tensor.sizes()), rank));
  }
  return tensor.size(dim);
}

// A field of the NVlabs init_kwargs (top level or under `group`), when present and a number.
std::optional<double> kwarg(const core::Json& info, const char* group, const char* key) {
  const core::Json* scope = info.contains("init_kwargs") ? &info["init_kwargs"] : nullptr;
  if (scope != nullptr && group != nullptr) scope = scope->contains(group) ? &(*scope)[group] : nullptr;
  if (scope == nullptr || !scope->is_object() || !scope->contains(key)) return std::nullopt;
  const core::Json& value = (*scope)[key];
  if (!value.is_number()) return std::nullopt;
  return value.get<double>();
}

// The geometry the shapes say, cross-checked with init_kwargs where they give it.
GeneratorConfig geometry_from_shapes(const TensorMap& tensors, const core::Json& info, const fs::path& original) {
  GeneratorConfig config;
  int64_t layers = 0;
  while (find(tensors, fmt::format("mapping.fc{}.weight", layers)) != nullptr) ++layers;
  if (layers == 0) {
    throw core::FormatError(fmt::format("{}: no mapping.fc0.weight: not a StyleGAN2 generator", original.string()));
  }
  const at::Tensor& fc0 = need(tensors, "mapping.fc0.weight", original);
  config.mapping_layers = layers;
  config.w_dim = dim_of(fc0, 0, "mapping.fc0.weight", 2, original);
  int64_t c_dim = 0, embed_dim = 0;
  if (const at::Tensor* embed = find(tensors, "mapping.embed.weight")) {
    embed_dim = dim_of(*embed, 0, "mapping.embed.weight", 2, original);
    c_dim = embed->size(1);
  }
  config.z_dim = fc0.size(1) - embed_dim;

  std::map<int64_t, int64_t> channels;  // resolution -> conv1 output channels
  const std::regex block(R"(synthesis\.b(\d+)\.conv1\.weight)");
  bool stylegan3 = false;
  for (const auto& [name, tensor] : tensors) {
    std::smatch match;
    if (std::regex_match(name, match, block)) {
      channels[std::stoll(match[1].str())] = dim_of(tensor, 0, name, 4, original);
    }
    if (name.rfind("synthesis.L", 0) == 0 || name.rfind("synthesis.input.", 0) == 0) stylegan3 = true;
  }
  if (channels.empty()) {
    throw core::FormatError(fmt::format(
        "{}: {}", original.string(),
        stylegan3 ? "a StyleGAN3 generator (synthesis.input, synthesis.L0_...): hdvila's generator is StyleGAN2's, "
                    "which StyleGAN3 files cannot be mapped onto"
                  : "no synthesis.b<res>.conv1.weight: not a StyleGAN2 generator"));
  }
  config.resolution = channels.rbegin()->first;
  config.img_channels = dim_of(need(tensors, "synthesis.b4.torgb.weight", original), 0,
                               "synthesis.b4.torgb.weight", 4, original);
  int64_t channel_max = 0;
  for (const auto& entry : channels) channel_max = std::max(channel_max, entry.second);
  int64_t channel_base = channel_max * config.resolution;  // when every block is at channel_max
  for (const auto& [res, count] : channels) {
    if (count < channel_max) {
      channel_base = count * res;
      break;
    }
  }
  if (const auto given = kwarg(info, "synthesis_kwargs", "channel_base")) channel_base = static_cast<int64_t>(*given);
  if (const auto given = kwarg(info, "synthesis_kwargs", "channel_max")) channel_max = static_cast<int64_t>(*given);
  config.channel_base = channel_base;
  config.channel_max = channel_max;
  for (const auto& [res, count] : channels) {
    if (std::min(channel_base / res, channel_max) != count) {
      throw core::FormatError(fmt::format(
          "{}: synthesis.b{} has {} channels, but channel_base {} and channel_max {} give {}: a channel geometry "
          "hdvila's generator cannot express",
          original.string(), res, count, channel_base, channel_max, std::min(channel_base / res, channel_max)));
    }
  }
  if (c_dim > 0) {
    LabelAttribute label{"class", {}};
    for (int64_t i = 0; i < c_dim; ++i) label.values.push_back(std::to_string(i));
    config.labels = {label};
    if (embed_dim != config.w_dim) {
      throw core::FormatError(fmt::format("{}: mapping.embed maps c to {} features, but hdvila's conditional mapping "
                                          "embeds c to w_dim ({})", original.string(), embed_dim, config.w_dim));
    }
  }

  // The constructor arguments, where the file has them, must agree with the shapes.
  const std::pair<const char*, int64_t> checks[] = {{"z_dim", config.z_dim},
                                                     {"w_dim", config.w_dim},
                                                     {"c_dim", c_dim},
                                                     {"img_resolution", config.resolution},
                                                     {"img_channels", config.img_channels}};
  for (const auto& [key, value] : checks) {
    const auto given = kwarg(info, nullptr, key);
    if (given && static_cast<int64_t>(*given) != value) {
      throw core::FormatError(fmt::format("{}: init_kwargs {} is {}, but the tensors' shapes say {}", original.string(),
                                          key, static_cast<int64_t>(*given), value));
    }
  }
  if (const auto given = kwarg(info, "mapping_kwargs", "num_layers"); given && int64_t(*given) != layers) {
    throw core::FormatError(fmt::format("{}: init_kwargs mapping_kwargs.num_layers is {}, but the file has {} "
                                        "mapping.fc layers", original.string(), int64_t(*given), layers));
  }
  return config;
}

const at::Tensor& standard_filter() {
  static const at::Tensor filter = [] {
    const at::Tensor taps = torch::tensor({1.0f, 3.0f, 3.0f, 1.0f});
    const at::Tensor outer = torch::outer(taps, taps);
    return outer / outer.sum();
  }();
  return filter;
}

// NVlabs: drops the resample_filter buffers after checking they hold the standard filter; reads
// the lr multiplier, clamp and architecture from init_kwargs.
TensorMap from_nvlabs(TensorMap tensors, const core::Json& info, GeneratorConfig& config, std::vector<std::string>& notes,
                      const fs::path& original) {
  const std::string class_name = info.value("class_name", std::string("?"));
  if (class_name != "Generator") {
    throw core::FormatError(fmt::format("{}: G_ema is a {}, expected a Generator", original.string(), class_name));
  }
  const core::Json kwargs = info.value("init_kwargs", core::Json::object());
  const core::Json synthesis = kwargs.value("synthesis_kwargs", core::Json::object());
  const std::string architecture = synthesis.value("architecture", std::string("skip"));
  if (architecture != "skip") {
    throw core::FormatError(fmt::format("{}: synthesis architecture \"{}\": hdvila's generator is the \"skip\" "
                                        "generator of StyleGAN2 (config E/F)", original.string(), architecture));
  }
  for (auto it = tensors.begin(); it != tensors.end();) {
    const std::string& name = it->first;
    const std::string suffix = "resample_filter";
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      const at::Tensor& filter = it->second;
      if (filter.sizes() != standard_filter().sizes() || !torch::allclose(filter.to(torch::kFloat), standard_filter(),
                                                                          1e-5, 1e-7)) {
        throw core::FormatError(fmt::format("{}: {} is not the [1,3,3,1] filter StyleGAN2 uses (shape {}): hdvila's "
                                            "generator has that filter built in", original.string(), name,
                                            core::shape_text(filter.sizes())));
      }
      it = tensors.erase(it);
    } else {
      ++it;
    }
  }
  config.mapping_lr_mul = kwarg(info, "mapping_kwargs", "lr_multiplier").value_or(0.01);
  config.w_avg_beta = kwarg(info, "mapping_kwargs", "w_avg_beta").value_or(0.995);
  const core::Json clamp = synthesis.value("conv_clamp", core::Json());
  config.conv_clamp = clamp.is_number() ? clamp.get<double>() : 0.0;
  notes.push_back(clamp.is_number() ? fmt::format("conv_clamp {} (init_kwargs)", config.conv_clamp)
                                    : "conv_clamp: none (init_kwargs has none)");
  if (const auto fp16 = kwarg(info, "synthesis_kwargs", "num_fp16_res"); fp16 && *fp16 > 0) {
    notes.push_back(fmt::format("num_fp16_res {}: computed in fp32 here (NVlabs uses fp16 on GPU only)", *fp16));
  }
  return tensors;
}

// rosinality/stylegan2-pytorch names -> NVlabs names.
TensorMap from_rosinality(const TensorMap& in, std::vector<std::string>& notes, const fs::path& original) {
  TensorMap out;
  std::set<std::string> used;
  auto take = [&](const std::string& from, const std::string& to, auto&& reshape) {
    const at::Tensor& tensor = need(in, from, original);
    out[to] = reshape(tensor);
    used.insert(from);
  };
  auto same = [](const at::Tensor& t) { return t; };
  int64_t layers = 0;
  while (find(in, fmt::format("style.{}.weight", layers + 1)) != nullptr) {
    take(fmt::format("style.{}.weight", layers + 1), fmt::format("mapping.fc{}.weight", layers), same);
    take(fmt::format("style.{}.bias", layers + 1), fmt::format("mapping.fc{}.bias", layers), same);
    ++layers;
  }
  if (layers == 0) {
    throw core::FormatError(fmt::format("{}: no style.1.weight: not a rosinality StyleGAN2 generator (g_ema)",
                                        original.string()));
  }
  const at::Tensor& constant = need(in, "input.input", original);
  if (constant.dim() != 4 || constant.size(0) != 1) {
    throw core::FormatError(fmt::format("{}: input.input has shape {}, expected [1, C, 4, 4]", original.string(),
                                        core::shape_text(constant.sizes())));
  }
  take("input.input", "synthesis.b4.const", [](const at::Tensor& t) { return t[0]; });
  auto styled_conv = [&](const std::string& from, const std::string& to, const std::string& noise) {
    const at::Tensor& weight = need(in, from + ".conv.weight", original);
    if (weight.dim() != 5 || weight.size(0) != 1) {
      throw core::FormatError(fmt::format("{}: {}.conv.weight has shape {}, expected [1, out, in, k, k]",
                                          original.string(), from, core::shape_text(weight.sizes())));
    }
    take(from + ".conv.weight", to + ".weight", [](const at::Tensor& t) { return t[0]; });
    take(from + ".conv.modulation.weight", to + ".affine.weight", same);
    take(from + ".conv.modulation.bias", to + ".affine.bias", same);
    take(from + ".activate.bias", to + ".bias", same);
    take(from + ".noise.weight", to + ".noise_strength", [](const at::Tensor& t) { return t.reshape({}); });
    take(noise, to + ".noise_const", [](const at::Tensor& t) { return t.reshape({t.size(-2), t.size(-1)}); });
    used.insert(from + ".conv.blur.kernel");
  };
  auto to_rgb = [&](const std::string& from, const std::string& to) {
    take(from + ".conv.weight", to + ".weight", [](const at::Tensor& t) { return t[0]; });
    take(from + ".conv.modulation.weight", to + ".affine.weight", same);
    take(from + ".conv.modulation.bias", to + ".affine.bias", same);
    take(from + ".bias", to + ".bias", [](const at::Tensor& t) { return t.reshape({-1}); });
    used.insert(from + ".upsample.kernel");
  };
  styled_conv("conv1", "synthesis.b4.conv1", "noises.noise_0");
  to_rgb("to_rgb1", "synthesis.b4.torgb");
  int64_t res = 8;
  for (int64_t i = 0; find(in, fmt::format("convs.{}.conv.weight", 2 * i)) != nullptr; ++i, res *= 2) {
    const std::string block = fmt::format("synthesis.b{}", res);
    styled_conv(fmt::format("convs.{}", 2 * i), block + ".conv0", fmt::format("noises.noise_{}", 2 * i + 1));
    styled_conv(fmt::format("convs.{}", 2 * i + 1), block + ".conv1", fmt::format("noises.noise_{}", 2 * i + 2));
    to_rgb(fmt::format("to_rgbs.{}", i), block + ".torgb");
  }
  if (const at::Tensor* latent_avg = find(in, "latent_avg")) {
    out["mapping.w_avg"] = latent_avg->reshape({-1});
    used.insert("latent_avg");
  }
  std::vector<std::string> unused;
  for (const auto& [name, tensor] : in) {
    if (!used.count(name)) unused.push_back(name);
  }
  if (!unused.empty()) {
    throw core::FormatError(fmt::format("{}: {} tensor(s) of g_ema have no place in a StyleGAN2 generator: {}",
                                        original.string(), unused.size(), fmt::join(unused, ", ")));
  }
  notes.push_back("conv_clamp: none (rosinality's generator has none); mapping lr multiplier 0.01");
  return out;
}

// Checks `tensors` against the generator's names and shapes (every problem listed) and copies them in.
void load_into(GeneratorImpl& generator, const TensorMap& tensors, const fs::path& original) {
  std::vector<std::string> problems;
  std::set<std::string> expected_names;
  for (const auto& [name, shape] : generator_expected_shapes(generator)) {
    expected_names.insert(name);
    const at::Tensor* tensor = find(tensors, name);
    if (tensor == nullptr) {
      problems.push_back(fmt::format("missing {} {}", name, core::shape_text(shape)));
    } else if (tensor->sizes() != at::IntArrayRef(shape)) {
      problems.push_back(fmt::format("{} has shape {}, expected {}", name, core::shape_text(tensor->sizes()),
                                     core::shape_text(shape)));
    }
  }
  for (const auto& [name, tensor] : tensors) {
    if (!expected_names.count(name)) problems.push_back(fmt::format("unexpected {}", name));
  }
  if (!problems.empty()) {
    throw core::FormatError(fmt::format("{}: the generator's tensors do not fit a StyleGAN2 generator of that "
                                        "geometry: {}", original.string(), fmt::join(problems, "; ")));
  }
  torch::NoGradGuard no_grad;
  for (auto& item : generator.named_parameters()) item.value().copy_(tensors.at(item.key()));
  for (auto& item : generator.named_buffers()) item.value().copy_(tensors.at(item.key()));
}

}  // namespace

StyleganImport import_stylegan(const fs::path& raw, const fs::path& original) {
  Source source = read_raw(raw, original);
  const std::string layout = source.info.value("layout", std::string());
  StyleganImport result;
  result.layout = layout;
  TensorMap tensors;
  GeneratorConfig config;
  if (layout == "nvlabs") {
    config = geometry_from_shapes(source.tensors, source.info, original);
    tensors = from_nvlabs(std::move(source.tensors), source.info, config, result.notes, original);
  } else if (layout == "rosinality") {
    tensors = from_rosinality(source.tensors, result.notes, original);
    config = geometry_from_shapes(tensors, core::Json::object(), original);
    config.mapping_lr_mul = 0.01;
    config.conv_clamp = 0;
  } else {
    throw core::FormatError(fmt::format("{}: stylegan_source layout \"{}\": expected nvlabs or rosinality",
                                        original.string(), layout));
  }
  config.validate();
  result.tensors = static_cast<int64_t>(tensors.size());

  const bool derive_w_avg = !tensors.count("mapping.w_avg");
  Generator generator(config);
  if (derive_w_avg) tensors["mapping.w_avg"] = generator->w_avg().clone();  // placeholder, replaced below
  load_into(*generator, tensors, original);
  generator->eval();
  if (derive_w_avg) {
    torch::NoGradGuard no_grad;
    at::Generator rng = at::detail::createCPUGenerator(0);
    const at::Tensor z = torch::randn({10000, config.z_dim}, rng);
    generator->w_avg().copy_(generator->map(z).mean(0));
    result.notes.push_back("mapping.w_avg: not in the file; the mean of 10,000 mapped z (seed 0)");
  }
  result.generator = generator;
  return result;
}

}  // namespace hdv::gen
