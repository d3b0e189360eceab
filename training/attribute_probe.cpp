// Attribute probes on SynthVid (see attribute_probe.h).
#include "training/attribute_probe.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "core/error.h"
#include "training/evaluation.h"
#include "training/synthvid.h"

namespace hdv::train {
namespace {

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-'; }

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

struct Match {
  size_t pos = 0, length = 0;
  size_t slot = 0;
  int value = 0;
};

// Every whole-word occurrence of every phrase of the attribute; where two overlap, the longer wins.
std::vector<Match> find_phrases(const std::string& text, const std::vector<std::vector<std::vector<std::string>>>& slots) {
  std::vector<Match> all;
  for (size_t s = 0; s < slots.size(); ++s) {
    for (size_t v = 0; v < slots[s].size(); ++v) {
      for (const std::string& phrase : slots[s][v]) {
        for (size_t at = text.find(phrase); at != std::string::npos; at = text.find(phrase, at + 1)) {
          const size_t end = at + phrase.size();
          if ((at > 0 && word_char(text[at - 1])) || (end < text.size() && word_char(text[end]))) continue;
          all.push_back({at, phrase.size(), s, static_cast<int>(v)});
        }
      }
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const Match& a, const Match& b) { return a.length > b.length; });
  std::vector<Match> kept;
  for (const Match& m : all) {
    const bool overlaps = std::any_of(kept.begin(), kept.end(), [&](const Match& k) {
      return m.pos < k.pos + k.length && k.pos < m.pos + m.length;
    });
    if (!overlaps) kept.push_back(m);
  }
  return kept;
}

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
  const std::vector<Match> matches = find_phrases(lower(caption), slots);
  if (matches.size() != 1 || matches[0].value != true_value) return std::nullopt;
  const Match& m = matches[0];
  // The article before the phrase, if any: [article_pos, article_pos + article_len).
  size_t article_pos = std::string::npos, article_len = 0;
  if (m.pos >= 2 && caption[m.pos - 1] == ' ') {
    size_t begin = m.pos - 1;
    while (begin > 0 && word_char(caption[begin - 1])) --begin;
    const std::string word = lower(caption.substr(begin, m.pos - 1 - begin));
    if (word == "a" || word == "an") article_pos = begin, article_len = word.size();
  }
  std::vector<std::string> out;
  for (size_t v = 0; v < slots[m.slot].size(); ++v) {
    if (static_cast<int>(v) == true_value) {
      out.push_back(caption);
      continue;
    }
    const std::string& phrase = slots[m.slot][v].front();
    std::string text = caption.substr(0, m.pos) + phrase + caption.substr(m.pos + m.length);
    if (m.pos == 0) text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
    if (article_pos != std::string::npos) {
      std::string article = std::string("aeiou").find(phrase[0]) != std::string::npos ? "an" : "a";
      if (std::isupper(static_cast<unsigned char>(caption[article_pos]))) article[0] = 'A';
      text = text.substr(0, article_pos) + article + text.substr(article_pos + article_len);
    }
    out.push_back(std::move(text));
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
