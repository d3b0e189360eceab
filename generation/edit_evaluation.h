// Scoring text-guided edits with the attribute oracle (issue 5's acceptance protocol): for each
// target value of an attribute (the 8 colours, or striped/dotted) and each of N generated images,
// edit the image toward "a <value> <class>" (the class the oracle reads on the source, neutral
// "a <class>"), then ask the oracle whether the edited image shows the target value and still the
// source's class. Images whose source already shows the target value are skipped and counted.
// The oracle only scores; it never steers.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/progress.h"
#include "generation/edit_optimise.h"
#include "generation/pipeline.h"

namespace hdv::gen {

struct EditEvaluationConfig {
  std::string attribute = "colour";  // oracle attribute the edits target
  std::vector<std::string> values;   // target values (empty = every value the oracle reads)
  std::string method = "directions";  // "directions" (global directions) or "optimise"
  int64_t images = 200;              // generated sources per target value
  int64_t seed = 0;                  // first source seed (sources: seed, seed+1, ...)
  double psi = 0.7;                  // truncation of the sources
  double strength = 4.1;             // directions: alpha
  double beta = 0.15;                // directions: beta
  EditOptimiseConfig optimise;       // optimise: steps, lr, layers, views
  void validate() const;
};

struct EditScore {
  std::string value;        // the target value
  int64_t edits = 0;        // sources edited (sources already showing the value are skipped)
  int64_t skipped = 0;      // sources that already showed the value
  int64_t target_hits = 0;  // edited images the oracle reads as the target value
  int64_t class_kept = 0;   // edited images whose class the oracle reads as the source's
  double mean_channels = 0;  // directions: StyleSpace channels touched per edit
  double target_rate() const { return edits > 0 ? double(target_hits) / double(edits) : 0.0; }
  double class_rate() const { return edits > 0 ? double(class_kept) / double(edits) : 0.0; }
};

struct EditEvaluation {
  std::vector<EditScore> per_value;
  EditScore total;  // summed over values (value "all")
  core::Json to_json(const EditEvaluationConfig& config) const;
};

// Needs a pipeline with a VL model and an oracle (and a direction table for "directions").
EditEvaluation evaluate_edits(Pipeline& pipeline, const EditEvaluationConfig& config,
                              const core::ProgressCallback& progress = {}, const std::atomic<bool>* cancel = nullptr);
// The same on several copies of the models side by side (generation/workers.h): the edits are
// shared out, the table is the same as on one (given the same CPU threads per edit). Progress is
// called under a lock, from the workers' threads.
EditEvaluation evaluate_edits(std::span<Pipeline> pipelines, const EditEvaluationConfig& config,
                              const core::ProgressCallback& progress = {}, const std::atomic<bool>* cancel = nullptr);

}  // namespace hdv::gen
