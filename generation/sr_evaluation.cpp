// Oracle-scored super-resolution evaluation (see sr_evaluation.h).
#include "generation/sr_evaluation.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <mutex>

#include "core/contact_sheet.h"
#include "core/error.h"
#include "generation/projector.h"
#include "generation/super_resolution.h"
#include "generation/vl_guide.h"
#include "generation/workers.h"

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
  return evaluate_super_resolution(std::span<Pipeline>(&pipeline, 1), cases, config, progress, cancel);
}

SREvaluation evaluate_super_resolution(std::span<Pipeline> pipelines, const std::vector<SRCase>& cases,
                                       const SREvaluationConfig& config, const core::ProgressCallback& progress,
                                       const std::atomic<bool>* cancel) {
  config.validate();
  if (pipelines.empty()) throw core::Error("sr evaluation: no pipeline");
  Pipeline& pipeline = pipelines.front();
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
  // One item per image; each worker fills only its images' slots, and the scores are summed in
  // order afterwards, so the table does not depend on the number of workers.
  struct Scored {
    SRImageRecord record;
    std::map<std::string, bool> original_hit;  // attribute -> the oracle reads the truth on the original
    std::vector<at::Tensor> picture;           // kept images only
  };
  std::vector<Scored> scored(cases.size());
  std::mutex progress_mutex;
  int64_t done = 0;
  const auto start = std::chrono::steady_clock::now();
  for_each_on_workers(pipelines, int64_t(cases.size()), [&](Pipeline& worker, int64_t item) {
    check_cancel(cancel);
    const size_t i = size_t(item);
    const SRCase& c = cases[i];
    const at::Tensor original = c.image.unsqueeze(0).to(torch::kFloat);
    const at::Tensor low = downscale(original, config.scale);
    SRConfig sr = config.sr;
    sr.seed = config.sr.seed + item;  // the same seeds with and without the prompt
    const SRResult with_prompt = worker.super_resolve(low, config.scale, c.prompt, sr, {}, cancel);
    const SRResult without = worker.super_resolve(low, config.scale, "", sr, {}, cancel);
    const at::Tensor outputs[] = {with_prompt.candidates.front().image.cpu(), without.candidates.front().image.cpu(),
                                  with_prompt.bicubic.cpu()};

    Scored& out = scored[i];
    out.record.source = c.source;
    const AttributeReading truth_read = *worker.read_attributes(original[0]);
    for (const std::string& a : config.attributes) out.original_hit[a] = truth_read.values.at(a) == c.truth.at(a);
    for (size_t m = 0; m < std::size(kMethods); ++m) {
      const AttributeReading read = *worker.read_attributes(outputs[m][0]);
      for (const std::string& a : config.attributes) out.record.read[kMethods[m]][a] = read.values.at(a);
      out.record.psnr[kMethods[m]] = psnr(outputs[m], original);
    }
    if (item < config.keep_images) {
      out.picture = {core::fit_to_cell(low[0], resolution), outputs[2][0], outputs[1][0], outputs[0][0], original[0]};
    }
    std::lock_guard<std::mutex> lock(progress_mutex);
    if (progress) {
      progress(++done, int64_t(cases.size()), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  });

  for (size_t i = 0; i < cases.size(); ++i) {
    Scored& out = scored[i];
    for (const std::string& a : config.attributes) result.original_hits[a] += out.original_hit.at(a);
    for (SRMethodScore& score : result.methods) {
      score.mean_psnr += out.record.psnr.at(score.method);
      ++score.images;
      for (const std::string& a : config.attributes) score.hits[a] += out.record.read.at(score.method).at(a) == cases[i].truth.at(a);
    }
    result.images.push_back(std::move(out.record));
    if (!out.picture.empty()) result.pictures.push_back(std::move(out.picture));
  }
  for (SRMethodScore& m : result.methods) m.mean_psnr /= double(std::max<int64_t>(1, m.images));
  return result;
}

}  // namespace hdv::gen
