// Oracle-scored edit evaluation (see edit_evaluation.h).
#include "generation/edit_evaluation.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <mutex>

#include "core/error.h"
#include "generation/workers.h"

namespace hdv::gen {

void EditEvaluationConfig::validate() const {
  auto fail = [](const std::string& what) { throw core::ConfigError("edit evaluation: " + what); };
  if (method != "directions" && method != "optimise") fail(fmt::format("method \"{}\" must be directions or optimise", method));
  if (images < 1) fail(fmt::format("images={} must be >= 1", images));
  if (seed < 0) fail(fmt::format("seed={} must be >= 0", seed));
  optimise.validate();
}

core::Json EditEvaluation::to_json(const EditEvaluationConfig& config) const {
  auto row = [](const EditScore& s) {
    return core::Json{{"value", s.value},           {"edits", s.edits},
                      {"skipped", s.skipped},       {"target_rate", s.target_rate()},
                      {"class_kept_rate", s.class_rate()}, {"mean_channels", s.mean_channels}};
  };
  core::Json json = {{"attribute", config.attribute}, {"method", config.method}, {"images", config.images},
                     {"seed", config.seed},           {"psi", config.psi}};
  if (config.method == "directions") {
    json["strength"] = config.strength;
    json["beta"] = config.beta;
  } else {
    json["steps"] = config.optimise.steps;
    json["lr"] = config.optimise.lr;
    json["layers"] = fmt::format("{}:{}", config.optimise.layer_begin, config.optimise.layer_end);
    json["views"] = config.optimise.views;
    json["pixel_lambda"] = config.optimise.pixel_lambda;
    json["direction_lambda"] = config.optimise.direction_lambda;
  }
  json["per_value"] = core::Json::array();
  for (const EditScore& s : per_value) json["per_value"].push_back(row(s));
  json["total"] = row(total);
  return json;
}

EditEvaluation evaluate_edits(Pipeline& pipeline, const EditEvaluationConfig& config,
                              const core::ProgressCallback& progress, const std::atomic<bool>* cancel) {
  return evaluate_edits(std::span<Pipeline>(&pipeline, 1), config, progress, cancel);
}

EditEvaluation evaluate_edits(std::span<Pipeline> pipelines, const EditEvaluationConfig& config,
                              const core::ProgressCallback& progress, const std::atomic<bool>* cancel) {
  config.validate();
  if (pipelines.empty()) throw core::Error("edit evaluation: no pipeline");
  Pipeline& pipeline = pipelines.front();
  if (!pipeline.has_oracle()) throw core::Error("edit evaluation: needs the attribute oracle (--oracle)");
  if (!pipeline.has_vl_model()) throw core::Error("edit evaluation: needs the VL model (--vl-model)");
  const std::vector<std::string> known = pipeline.oracle_values(config.attribute);
  if (known.empty()) throw core::Error(fmt::format("edit evaluation: the oracle does not read \"{}\"", config.attribute));
  if (pipeline.oracle_values("class").empty()) throw core::Error("edit evaluation: the oracle does not read \"class\"");
  std::vector<std::string> values = config.values.empty() ? known : config.values;
  for (const std::string& v : values) {
    if (std::find(known.begin(), known.end(), v) == known.end()) {
      throw core::Error(fmt::format("edit evaluation: \"{}\" is not a {} the oracle reads ({})", v, config.attribute,
                                    fmt::join(known, ", ")));
    }
  }
  // The sources and what the oracle reads on them, once.
  Pipeline& first = pipelines.front();
  std::vector<Rendered> sources;
  std::vector<AttributeReading> readings;
  for (int64_t i = 0; i < config.images; ++i) {
    sources.push_back(first.sample(config.seed + i, config.psi));
    readings.push_back(*first.read_attributes(sources.back().image));
  }
  // One item per (target value, source); each worker writes only its items' outcomes, and they
  // are summed in order afterwards, so the table does not depend on the number of workers.
  struct Outcome {
    bool skipped = false, target_hit = false, class_kept = false;
    int64_t channels = 0;
  };
  const int64_t total_steps = static_cast<int64_t>(values.size()) * config.images;
  std::vector<Outcome> outcomes(static_cast<size_t>(total_steps));
  std::mutex progress_mutex;
  int64_t done = 0;
  const auto start = std::chrono::steady_clock::now();
  for_each_on_workers(pipelines, total_steps, [&](Pipeline& pipeline, int64_t item) {
    check_cancel(cancel);
    const std::string& value = values[static_cast<size_t>(item / config.images)];
    const int64_t i = item % config.images;
    const AttributeReading& source = readings[static_cast<size_t>(i)];
    const std::string cls = source.values.at("class");
    Outcome& outcome = outcomes[static_cast<size_t>(item)];
    if (source.values.at(config.attribute) == value) {
      outcome.skipped = true;
    } else {
      const std::string prompt = fmt::format("a {} {}", value, cls);
      const std::string neutral = fmt::format("a {}", cls);
      at::Tensor edited;
      if (config.method == "directions") {
        EditResult r = pipeline.edit(sources[static_cast<size_t>(i)].latent, prompt, neutral, config.strength, config.beta);
        edited = r.image;
        outcome.channels = r.channels;
      } else {
        EditOptimiseConfig optimise = config.optimise;
        optimise.seed = static_cast<uint64_t>(config.seed + i);
        edited = pipeline.edit_optimise(sources[static_cast<size_t>(i)].latent, prompt, neutral, optimise, {}, cancel).image;
      }
      const AttributeReading after = *pipeline.read_attributes(edited);
      outcome.target_hit = after.values.at(config.attribute) == value;
      outcome.class_kept = after.values.at("class") == cls;
    }
    std::lock_guard<std::mutex> lock(progress_mutex);
    if (progress) progress(++done, total_steps, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  });

  EditEvaluation result;
  result.total.value = "all";
  double channels_sum = 0;
  for (size_t v = 0; v < values.size(); ++v) {
    EditScore score;
    score.value = values[v];
    double value_channels = 0;
    for (int64_t i = 0; i < config.images; ++i) {
      const Outcome& outcome = outcomes[v * static_cast<size_t>(config.images) + static_cast<size_t>(i)];
      if (outcome.skipped) {
        ++score.skipped;
        continue;
      }
      ++score.edits;
      score.target_hits += outcome.target_hit ? 1 : 0;
      score.class_kept += outcome.class_kept ? 1 : 0;
      value_channels += static_cast<double>(outcome.channels);
    }
    score.mean_channels = score.edits > 0 ? value_channels / static_cast<double>(score.edits) : 0.0;
    channels_sum += value_channels;
    result.total.edits += score.edits;
    result.total.skipped += score.skipped;
    result.total.target_hits += score.target_hits;
    result.total.class_kept += score.class_kept;
    result.per_value.push_back(score);
  }
  result.total.mean_channels = result.total.edits > 0 ? channels_sum / static_cast<double>(result.total.edits) : 0.0;
  return result;
}

}  // namespace hdv::gen
