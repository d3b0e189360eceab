// Oracle-scored super-resolution evaluation (see sr_evaluation.h).
#include "generation/sr_evaluation.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>

#include "core/contact_sheet.h"
#include "core/error.h"
#include "generation/projector.h"
#include "generation/super_resolution.h"
#include "generation/vl_guide.h"

namespace hdv::gen {

namespace {
const char* const kMethods[] = {"prompt", "no prompt", "bicubic"};
}  // namespace

void SREvaluationConfig::validate() const {
  if (scale != 4 && scale != 8 && scale != 16) {
    throw core::ConfigError(fmt::format("sr evaluation: scale={} must be 4, 8 or 16", scale));
  }
  if (attributes.empty()) throw core::ConfigError("sr evaluation: attributes must name at least one oracle attribute");
  sr.validate();
}

double SRMethodScore::accuracy(const std::string& attribute) const {
  const auto it = hits.find(attribute);
  return images > 0 && it != hits.end() ? double(it->second) / double(images) : 0.0;
}

core::Json SREvaluation::to_json(const SREvaluationConfig& config) const {
  core::Json json = {{"scale", config.scale},           {"steps", config.sr.steps},
                     {"candidates", config.sr.candidates}, {"text_weight", config.sr.text_weight},
                     {"seed", config.sr.seed},           {"attributes", config.attributes}};
  json["methods"] = core::Json::array();
  for (const SRMethodScore& m : methods) {
    core::Json accuracy = core::Json::object();
    for (const std::string& a : config.attributes) accuracy[a] = m.accuracy(a);
    json["methods"].push_back({{"method", m.method}, {"images", m.images}, {"mean_psnr", m.mean_psnr}, {"accuracy", accuracy}});
  }
  core::Json ceiling = core::Json::object();
  const double n = images.empty() ? 1.0 : double(images.size());
  for (const auto& [a, hit] : original_hits) ceiling[a] = double(hit) / n;
  json["original_accuracy"] = ceiling;
  json["images"] = core::Json::array();
  for (const SRImageRecord& r : images) json["images"].push_back({{"source", r.source}, {"psnr", r.psnr}, {"read", r.read}});
  return json;
}

SREvaluation evaluate_super_resolution(Pipeline& pipeline, const std::vector<SRCase>& cases, const SREvaluationConfig& config,
                                       const core::ProgressCallback& progress, const std::atomic<bool>* cancel) {
  config.validate();
  if (!pipeline.has_oracle()) throw core::Error("sr evaluation: needs the attribute oracle (--oracle)");
  if (!pipeline.has_vl_model()) throw core::Error("sr evaluation: needs the VL model (--vl-model)");
  for (const std::string& a : config.attributes) {
    if (pipeline.oracle_values(a).empty()) {
      throw core::Error(fmt::format("sr evaluation: the oracle does not read \"{}\"", a));
    }
  }
  if (cases.empty()) throw core::Error("sr evaluation: no images to score");
  const int64_t resolution = pipeline.generator().config().resolution;
  if (resolution % config.scale != 0) {
    throw core::Error(fmt::format("sr evaluation: scale {} does not divide the generator's resolution {}", config.scale, resolution));
  }
  SREvaluation result;
  for (const char* m : kMethods) result.methods.push_back(SRMethodScore{m, 0, 0, {}});
  for (const std::string& a : config.attributes) {
    result.original_hits[a] = 0;
    for (SRMethodScore& m : result.methods) m.hits[a] = 0;
  }
  // Every case is checked before the first (slow) search, so a bad one late in the list costs nothing.
  for (const SRCase& c : cases) {
    if (c.image.dim() != 3 || c.image.size(0) != 3 || c.image.size(1) != resolution || c.image.size(2) != resolution) {
      throw core::Error(fmt::format("sr evaluation: {}: image shape [{}], expected [3, {}, {}] (the generator's resolution)",
                                    c.source, fmt::join(c.image.sizes(), ", "), resolution, resolution));
    }
    for (const std::string& a : config.attributes) {
      if (!c.truth.count(a)) throw core::Error(fmt::format("sr evaluation: {}: no true value for \"{}\"", c.source, a));
    }
  }
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < cases.size(); ++i) {
    check_cancel(cancel);
    const SRCase& c = cases[i];
    const at::Tensor original = c.image.unsqueeze(0).to(torch::kFloat);
    const at::Tensor low = downscale(original, config.scale);
    SRConfig sr = config.sr;
    sr.seed = config.sr.seed + int64_t(i);  // the same seeds with and without the prompt
    const SRResult with_prompt = pipeline.super_resolve(low, config.scale, c.prompt, sr, {}, cancel);
    const SRResult without = pipeline.super_resolve(low, config.scale, "", sr, {}, cancel);
    const at::Tensor outputs[] = {with_prompt.candidates.front().image.cpu(), without.candidates.front().image.cpu(),
                                  with_prompt.bicubic.cpu()};

    SRImageRecord record;
    record.source = c.source;
    const AttributeReading truth_read = *pipeline.read_attributes(original[0]);
    for (const std::string& a : config.attributes) result.original_hits[a] += truth_read.values.at(a) == c.truth.at(a);
    for (size_t m = 0; m < result.methods.size(); ++m) {
      const at::Tensor& out = outputs[m];
      const double db = psnr(out, original);
      const AttributeReading read = *pipeline.read_attributes(out[0]);
      SRMethodScore& score = result.methods[m];
      score.mean_psnr += db;
      ++score.images;
      for (const std::string& a : config.attributes) {
        score.hits[a] += read.values.at(a) == c.truth.at(a);
        record.read[score.method][a] = read.values.at(a);
      }
      record.psnr[score.method] = db;
    }
    result.images.push_back(std::move(record));
    if (int64_t(i) < config.keep_images) {
      result.pictures.push_back({core::fit_to_cell(low[0], resolution), outputs[2][0], outputs[1][0], outputs[0][0], original[0]});
    }
    if (progress) {
      progress(int64_t(i) + 1, int64_t(cases.size()),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  for (SRMethodScore& m : result.methods) m.mean_psnr /= double(std::max<int64_t>(1, m.images));
  return result;
}

}  // namespace hdv::gen
