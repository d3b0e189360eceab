// The Pipeline API (see pipeline.h).
#include "generation/pipeline.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include "core/assets.h"
#include "core/error.h"
#include "core/log.h"
#include "generation/generator_checkpoint.h"
#include "generation/labels.h"
#include "generation/oracle.h"
#include "models/vl_checkpoint.h"

namespace hdv::gen {

namespace fs = std::filesystem;

struct Pipeline::State {
  Generator generator{nullptr};
  std::unique_ptr<VLGuide> guide;
  std::optional<DirectionTable> directions;
  AttributeOracle oracle{nullptr};
  fs::path generator_path, vl_model_path, directions_path, oracle_path;
  c10::Device device = c10::Device(c10::kCPU);

  std::map<std::string, at::Tensor> text_cache;  // prompt -> embedding (live previews repeat prompts)

  VLGuide& need_guide(const char* what) {
    if (!guide) throw core::Error(fmt::format("{}: needs the VL model (--vl-model); none is loaded", what));
    return *guide;
  }
  at::Tensor embed_text(const char* what, const std::string& prompt) {
    VLGuide& g = need_guide(what);
    auto it = text_cache.find(prompt);
    if (it != text_cache.end()) return it->second;
    at::Tensor embedding = g.embed_text(prompt);
    if (text_cache.size() >= 256) text_cache.clear();
    text_cache.emplace(prompt, embedding);
    return embedding;
  }
  at::Tensor cpu(const at::Tensor& t) const { return t.detach().to(torch::kCPU).to(torch::kFloat); }
};

namespace {

bool file_exists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

at::Tensor seeded_z(int64_t seed, int64_t z_dim) {
  auto cpu = torch::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed));
  return torch::randn({1, z_dim}, cpu, torch::kFloat);
}

}  // namespace

std::string derive_neutral(const std::string& prompt) {
  std::istringstream in(prompt);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  if (words.empty()) return "";
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  std::string last = words.back();
  while (!last.empty() && std::ispunct(static_cast<unsigned char>(last.back()))) last.pop_back();
  const std::string first = lower(words.front());
  if (words.size() > 1 && (first == "a" || first == "an" || first == "the")) {
    std::string article = first == "the" ? "the" : (std::string("aeiou").find(lower(last).substr(0, 1)) != std::string::npos ? "an" : "a");
    return article + " " + last;
  }
  return last;
}

std::string neutral_prompt(const std::string& prompt, const std::string& neutral, std::string_view mode) {
  if (!neutral.empty()) return neutral;
  std::string derived = derive_neutral(prompt);
  if (derived == prompt) {
    throw core::Error(fmt::format("{}: no neutral prompt can be derived from \"{}\" (the article and last word of an "
                                  "English prompt); give one (job field \"neutral\", flag --neutral)",
                                  mode, prompt));
  }
  return derived;
}

Pipeline::Pipeline(const PipelineOptions& options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.device = options.device;
  s.generator_path = options.generator.empty() ? core::default_model_path("generator.safetensors") : options.generator;
  if (options.generator.empty() && !file_exists(s.generator_path)) {
    throw core::IoError(fmt::format("{}: the bundled default generator is not there; pass --generator PATH",
                                    s.generator_path.string()));
  }
  s.generator = load_generator(s.generator_path);
  s.generator->to(s.device);
  core::log_debug("generator {} ({}×{} px)", s.generator_path.string(), s.generator->config().resolution,
                 s.generator->config().resolution);

  s.vl_model_path = options.vl_model.empty() ? core::default_model_path("vl-model.safetensors") : options.vl_model;
  if (file_exists(s.vl_model_path) || !options.vl_model.empty()) {
    VLGuideConfig guide_config;
    guide_config.image_size = options.vl_image_size > 0 ? options.vl_image_size
                                                        : default_vl_image_size(s.generator->config().resolution);
    s.guide = std::make_unique<VLGuide>(
        load_vl_guide(s.vl_model_path, options.vocab, options.python, s.device, guide_config));
    core::log_debug("guide {} ({})", s.vl_model_path.string(), s.guide->kind());
  } else if (options.require_vl) {
    throw core::IoError(fmt::format("{}: the bundled default VL model is not there; pass --vl-model PATH",
                                    s.vl_model_path.string()));
  }

  s.directions_path = options.directions.empty() ? s.generator_path.parent_path() / "directions.safetensors" : options.directions;
  if (file_exists(s.directions_path) || !options.directions.empty()) {
    DirectionTable table = load_directions(s.directions_path, *s.generator);
    if (!table.complete(s.generator->style_layers().size())) {
      throw core::FormatError(fmt::format("{}: the direction table is partial ({} of {} layers); finish it with "
                                          "`hdvila-train directions --resume`",
                                          s.directions_path.string(), table.completed_layers,
                                          s.generator->style_layers().size()));
    }
    if (s.guide && table.relevance.size(1) != s.guide->embed_dim()) {
      throw core::FormatError(fmt::format("{}: table is {} wide, the guide {} ({}) embeds in {}; a table is measured with "
                                          "one guide: compute one with `hdvila-train directions --vl-model {}`",
                                          s.directions_path.string(), table.relevance.size(1), s.vl_model_path.string(),
                                          s.guide->kind(), s.guide->embed_dim(), s.vl_model_path.string()));
    }
    if (!options.plain_relevance) whiten_directions(table, options.whitening_ridge);
    s.directions = std::move(table);
  }

  s.oracle_path = options.oracle.empty() ? core::default_model_path("oracle.safetensors") : options.oracle;
  if (file_exists(s.oracle_path) || !options.oracle.empty()) {
    s.oracle = load_oracle(s.oracle_path);
    s.oracle->to(s.device);
  }
}

Pipeline::~Pipeline() = default;
Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;

const std::vector<LabelAttribute>& Pipeline::label_vocabulary() const { return state_->generator->config().labels; }

Rendered Pipeline::sample(int64_t seed, double psi, int64_t mix_seed, int64_t crossover, const std::string& label) {
  State& s = *state_;
  torch::NoGradGuard no_grad;
  GeneratorImpl& g = *s.generator;
  const auto& vocabulary = g.config().labels;
  if (vocabulary.empty() && !label.empty()) parse_label_spec(vocabulary, label);  // the "unconditional" error
  LabelChoice choice;
  auto labels_of = [&](int64_t which_seed, const LabelChoice& given) -> at::Tensor {
    if (vocabulary.empty()) return {};
    choice = draw_labels(vocabulary, given, static_cast<uint64_t>(which_seed));
    return one_hot_labels(vocabulary, {choice}).to(s.device);
  };
  const LabelChoice given = label.empty() ? LabelChoice{} : parse_label_spec(vocabulary, label);
  at::Tensor ws = g.truncate(g.broadcast(g.map(seeded_z(seed, g.config().z_dim).to(s.device), labels_of(seed, given))), psi);
  const LabelChoice sample_choice = choice;
  if (mix_seed >= 0) {
    // The mixed-in seed keeps the sample's labels, as in training's style mixing.
    at::Tensor c = vocabulary.empty() ? at::Tensor() : one_hot_labels(vocabulary, {sample_choice}).to(s.device);
    at::Tensor other = g.truncate(g.broadcast(g.map(seeded_z(mix_seed, g.config().z_dim).to(s.device), c)), psi);
    ws = GeneratorImpl::mix(ws, other, crossover);
  }
  Rendered out;
  if (!vocabulary.empty()) out.labels = describe_labels(vocabulary, sample_choice);
  out.latent.ws = ws;
  out.image = s.cpu(g.synthesize(ws));
  return out;
}

Rendered Pipeline::render(const Latent& latent) {
  State& s = *state_;
  torch::NoGradGuard no_grad;
  GeneratorImpl& g = *s.generator;
  Rendered out;
  out.latent = latent;
  out.image = s.cpu(g.synthesize_from_styles(g.styles(latent.ws.to(s.device)),
                                             latent.noise.empty() ? NoiseMode::Const : NoiseMode::None, latent.noise));
  return out;
}

InvertOutput Pipeline::invert(const at::Tensor& image, const InvertConfig& config, const core::ProgressCallback& progress,
                              const std::atomic<bool>* cancel) {
  State& s = *state_;
  InvertConfig c = config;
  if (!s.guide) c.vl_weight = 0;
  InvertResult r = gen::invert(*s.generator, s.guide.get(), image, c, progress, cancel);
  InvertOutput out;
  out.latent.ws = r.ws;
  out.latent.noise = r.noise;
  out.image = s.cpu(r.image);
  out.mse = r.mse;
  out.psnr = r.psnr;
  return out;
}

EditResult Pipeline::edit(const Latent& latent, const std::string& prompt, const std::string& neutral, double alpha,
                          double beta) {
  State& s = *state_;
  s.need_guide("edit");
  if (!s.directions) {
    throw core::Error(fmt::format("edit: no direction table for this generator ({} is missing); compute it with "
                                  "`hdvila-train directions`, or use edit-optimise",
                                  s.directions_path.string()));
  }
  EditResult out;
  out.neutral = neutral_prompt(prompt, neutral, "edit");
  const at::Tensor delta = text_direction(s.embed_text("edit", prompt), s.embed_text("edit", out.neutral));
  torch::NoGradGuard no_grad;
  GeneratorImpl& g = *s.generator;
  GlobalEdit edited = edit_with_directions(*s.directions, g.styles(latent.ws.to(s.device)), delta, alpha, beta);
  out.channels = edited.channels;
  out.latent = latent;
  out.image = s.cpu(g.synthesize_from_styles(edited.styles, latent.noise.empty() ? NoiseMode::Const : NoiseMode::None,
                                             latent.noise));
  return out;
}

OptimiseEditResult Pipeline::edit_optimise(const Latent& latent, const std::string& prompt, const std::string& neutral,
                                           const EditOptimiseConfig& config, const core::ProgressCallback& progress,
                                           const std::atomic<bool>* cancel) {
  State& s = *state_;
  VLGuide& guide = s.need_guide("edit-optimise");
  const at::Tensor target = s.embed_text("edit-optimise", prompt);
  at::Tensor direction;
  if (config.direction_lambda > 0) {
    direction = text_direction(target, s.embed_text("edit-optimise", neutral_prompt(prompt, neutral, "edit-optimise")));
  }
  OptimiseResult r =
      gen::edit_optimise(*s.generator, guide, latent.ws.to(s.device), target, config, progress, cancel, direction);
  OptimiseEditResult out;
  out.latent.ws = r.ws;
  out.image = s.cpu(r.image);
  out.start_similarity = r.start_similarity;
  out.similarity = r.similarity;
  return out;
}

SRResult Pipeline::super_resolve(const at::Tensor& low, int64_t scale, const std::string& prompt, const SRConfig& config,
                                 const core::ProgressCallback& progress, const std::atomic<bool>* cancel) {
  State& s = *state_;
  at::Tensor text;
  VLGuide* guide = s.guide.get();
  if (!prompt.empty()) text = s.embed_text("sr with a prompt", prompt);
  SRResult r = gen::super_resolve(*s.generator, guide, low, scale, text, config, progress, cancel);
  for (SRCandidate& c : r.candidates) c.image = s.cpu(c.image);
  r.bicubic = s.cpu(r.bicubic);
  return r;
}

std::optional<AttributeReading> Pipeline::read_attributes(const at::Tensor& image) {
  State& s = *state_;
  if (!s.oracle) return std::nullopt;
  torch::NoGradGuard no_grad;
  at::Tensor batch = image.dim() == 3 ? image.unsqueeze(0) : image;
  std::vector<OraclePrediction> predictions = s.oracle->predict(batch.to(s.device));
  AttributeReading reading;
  reading.values = predictions.front().values;
  reading.confidence = predictions.front().confidence;
  return reading;
}

std::vector<std::string> Pipeline::oracle_values(const std::string& attribute) const {
  if (state_->oracle.is_empty()) return {};
  for (const OracleAttribute& a : state_->oracle->config().attributes) {
    if (a.name == attribute) return a.values;
  }
  return {};
}

bool Pipeline::has_vl_model() const { return state_->guide != nullptr; }
bool Pipeline::has_directions() const { return state_->directions.has_value(); }
bool Pipeline::has_oracle() const { return !state_->oracle.is_empty(); }
GeneratorImpl& Pipeline::generator() { return *state_->generator; }
const fs::path& Pipeline::generator_path() const { return state_->generator_path; }
const fs::path& Pipeline::vl_model_path() const { return state_->vl_model_path; }
const fs::path& Pipeline::directions_path() const { return state_->directions_path; }
const fs::path& Pipeline::oracle_path() const { return state_->oracle_path; }
c10::Device Pipeline::device() const { return state_->device; }

}  // namespace hdv::gen
