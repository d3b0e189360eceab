// Zero-shot retrieval evaluation (docs/design.md §5): text→video and video→text R@1/5/10, median and
// mean rank (1-based), over every caption of every clip; on SynthVid also per attribute group —
// for each text→video query, does the top-ranked clip share the query clip's class, colour,
// texture, size, motion, background? — with the chance level of each group, and the attribute
// probes of attribute_probe.h, which measure each attribute with the others held fixed.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/progress.h"
#include "training/attribute_probe.h"
#include "training/clip_sampler.h"
#include "training/dataset.h"

namespace hdv::models {
class VLModelImpl;
class Tokenizer;
}  // namespace hdv::models

namespace hdv::train {

struct RetrievalScores {
  double r1 = 0, r5 = 0, r10 = 0;  // percent of queries whose match ranks within 1 / 5 / 10
  double median_rank = 0;          // 1 = first
  double mean_rank = 0;
  int64_t queries = 0;
};

// similarity: [texts, clips]; text_clip[i]: the clip caption i describes -> text→video ranks each
// text's clip among all clips; video→text ranks, for each clip, its best-ranked caption among all
// captions (clips without captions are not queries).
std::pair<RetrievalScores, RetrievalScores> retrieval_scores(const at::Tensor& similarity,
                                                             const std::vector<int64_t>& text_clip);

struct AttributeScore {
  std::string group;       // "class", "colour", ...
  double accuracy = 0;     // percent of text→video queries whose top clip has the query's value
  double chance = 0;       // percent expected by picking a clip at random (Σ share²)
  int64_t queries = 0;
};

// labels: SynthVid labels of each clip (objects[0] is the primary object); top_clip[i]: index of
// the best clip for caption i. Groups found in the labels: class, colour, texture, size, motion
// (of the primary object) and background.
std::vector<AttributeScore> attribute_scores(const std::vector<core::Json>& labels, const std::vector<int64_t>& text_clip,
                                             const std::vector<int64_t>& top_clip);

struct EvalOptions {
  int64_t batch_size = 16;
  int workers = 2;
  c10::Device device{c10::kCPU};
  core::ProgressCallback progress;  // (clips encoded, total, seconds)
};

struct RetrievalReport {
  RetrievalScores text_to_video, video_to_text;
  std::vector<AttributeScore> attributes;  // SynthVid only
  std::vector<ProbeScore> probes;          // SynthVid only: attribute_probes on each clip's first caption
  int64_t clips = 0;                        // clips evaluated
  int64_t texts = 0;                        // captions evaluated
  int64_t skipped = 0;                      // clips whose video could not be read (left out)
  double seconds = 0;

  core::Json to_json() const;
};

// Text embeddings of `captions` ([N, D], float32, on the CPU), in batches of batch_size.
at::Tensor encode_captions(models::VLModelImpl& model, const models::Tokenizer& tokenizer,
                           const std::vector<std::string>& captions, int64_t batch_size, c10::Device device);

RetrievalReport evaluate_retrieval(models::VLModelImpl& model, const models::Tokenizer& tokenizer,
                                   const Dataset& dataset, const ClipSampler& sampler, const EvalOptions& options);

}  // namespace hdv::train
