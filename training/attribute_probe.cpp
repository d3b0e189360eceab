// Attribute probes on SynthVid (see attribute_probe.h).
#include "training/attribute_probe.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include "core/error.h"
#include "training/caption_phrases.h"
#include "training/evaluation.h"
#include "training/synthvid.h"

namespace hdv::train {
namespace {

int value_index(std::string_view attribute, const std::string& word) {
  auto find = [&](const auto& vocabulary) {
    for (size_t i = 0; i < vocabulary.size(); ++i) {
      if (vocabulary[i] == word) return static_cast<int>(i);
    }
    return -1;
  };
  if (attribute == "class") return find(kSynthClasses);
  if (attribute == "colour") return find(kSynthColours);
  if (attribute == "texture") return find(kSynthTextures);
  if (attribute == "size") return find(kSynthSizes);
  if (attribute == "motion") return find(kSynthMotions);
  return -1;
}

}  // namespace

std::optional<std::vector<std::string>> probe_captions(const std::string& caption, std::string_view attribute,
                                                       int true_value) {
  const auto slots = caption_phrase_slots(attribute);
  const std::vector<PhraseMatch> matches = find_attribute_phrases(caption, attribute);
  if (matches.size() != 1 || matches[0].value != true_value) return std::nullopt;
  const PhraseMatch& m = matches[0];
  std::vector<std::string> out;
  for (size_t v = 0; v < slots[m.slot].size(); ++v) {
    out.push_back(static_cast<int>(v) == true_value ? caption : replace_phrase(caption, m, slots[m.slot][v].front()));
  }
  return out;
}

std::vector<ProbeScore> attribute_probes(models::VLModelImpl& model, const models::Tokenizer& tokenizer,
                                         const at::Tensor& videos, const std::vector<std::string>& captions,
                                         const std::vector<core::Json>& labels, int64_t batch_size,
                                         c10::Device device) {
  if (captions.size() != labels.size() || int64_t(captions.size()) != videos.size(0)) {
    throw core::Error(fmt::format("attribute_probes: {} captions, {} labels and {} video embeddings must match",
                                  captions.size(), labels.size(), videos.size(0)));
  }
  torch::NoGradGuard no_grad;
  std::vector<ProbeScore> scores;
  for (std::string_view attribute : kProbedAttributes) {
    ProbeScore score;
    score.attribute = std::string(attribute);
    std::vector<std::string> texts;
    std::vector<int64_t> clip, truth;  // per probed clip
    size_t values = 0;
    for (size_t k = 0; k < labels.size(); ++k) {
      const core::Json& l = labels[k];
      if (!l.is_object() || !l.contains("objects") || !l["objects"].is_array() || l["objects"].size() != 1) continue;
      const core::Json& object = l["objects"][0];
      if (!object.contains(score.attribute) || !object[score.attribute].is_string()) continue;
      const int value = value_index(attribute, object[score.attribute].get<std::string>());
      std::optional<std::vector<std::string>> probes = value < 0 ? std::nullopt : probe_captions(captions[k], attribute, value);
      if (!probes) {
        ++score.left_out;
        continue;
      }
      values = probes->size();
      texts.insert(texts.end(), probes->begin(), probes->end());
      clip.push_back(int64_t(k));
      truth.push_back(value);
    }
    score.clips = int64_t(clip.size());
    if (score.clips > 0) {
      const int64_t n = score.clips, v = int64_t(values);
      // [n, values, D] caption embeddings; [n, D] the clips' video embeddings
      at::Tensor embedded = encode_captions(model, tokenizer, texts, batch_size, device).view({n, v, -1});
      at::Tensor clip_videos = videos.index_select(0, torch::tensor(clip, torch::kLong)).to(torch::kFloat32);
      at::Tensor similarity = (embedded * clip_videos.unsqueeze(1)).sum(-1);  // [n, values]
      at::Tensor right = similarity.argmax(1).eq(torch::tensor(truth, torch::kLong));
      score.accuracy = 100.0 * right.to(torch::kFloat64).mean().item<double>();
      score.chance = 100.0 / double(values);
    }
    scores.push_back(score);
  }
  return scores;
}

}  // namespace hdv::train
