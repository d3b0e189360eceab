// Attribute probes on SynthVid: does a VL model perceive one attribute, everything else held
// fixed? A one-object clip's caption is rewritten with the object's value of the attribute
// replaced by each other value, in the same place ("striped" -> "dotted", "with stripes" -> "with
// dots", "moving left" -> "growing"); the probe is right when the true caption scores highest
// against the clip. Chance is 1 / (number of values).
//
// This isolates what retrieval's per-attribute score cannot: that score (does the top-1 clip share
// the query's value?) also rises with R@1 through the other attributes, so a model blind to
// texture still scores well above texture's chance there.
//
// These probes read the joint embedding through the text tower. stage_probes.h asks the other
// question: is an attribute linearly readable at each stage of the video tower at all?
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"

namespace hdv::models {
class VLModelImpl;
class Tokenizer;
}  // namespace hdv::models

namespace hdv::train {

// The attributes probed, in report order.
inline constexpr std::array<std::string_view, 5> kProbedAttributes = {"class", "colour", "texture", "size", "motion"};

// `caption` rewritten for every value of `attribute` (index = value; the entry of the caption's own
// value is the caption itself). std::nullopt when the caption does not hold exactly one phrase of
// the attribute (of any value), or when that phrase is not `true_value`'s: such a clip is left out.
// Phrases match whole words, case-insensitively; "a"/"an" before the phrase follows the new word.
std::optional<std::vector<std::string>> probe_captions(const std::string& caption, std::string_view attribute,
                                                       int true_value);

struct ProbeScore {
  std::string attribute;
  double accuracy = 0;   // percent of probed clips whose own caption scores highest
  double chance = 0;     // percent: 100 / values
  int64_t clips = 0;     // clips probed
  int64_t left_out = 0;  // one-object clips whose caption could not be rewritten
};

// videos: [clips, D] embeddings of the evaluated clips; captions[k] and labels[k] (SynthVid
// labels.jsonl objects) belong to clip k. Clips with other than one object are not probed.
std::vector<ProbeScore> attribute_probes(models::VLModelImpl& model, const models::Tokenizer& tokenizer,
                                         const at::Tensor& videos, const std::vector<std::string>& captions,
                                         const std::vector<core::Json>& labels, int64_t batch_size,
                                         c10::Device device);

}  // namespace hdv::train
