// Hard-negative captions and grouped epoch orders (see hard_negatives.h).
#include "training/hard_negatives.h"

#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "core/splitmix.h"
#include "training/caption_phrases.h"

namespace hdv::train {
namespace {

template <size_t N>
int index_of(const std::array<std::string_view, N>& vocabulary, const core::Json& field) {
  if (!field.is_string()) return -1;
  const std::string word = field.get<std::string>();
  for (size_t i = 0; i < N; ++i) {
    if (vocabulary[i] == word) return static_cast<int>(i);
  }
  return -1;
}

// The object's value of a swappable attribute, and how many values it has.
int& value_of(SynthObject& o, std::string_view attribute) {
  if (attribute == "texture") return o.texture;
  if (attribute == "motion") return o.motion;
  if (attribute == "class") return o.cls;
  if (attribute == "size") return o.size;
  throw core::Error(fmt::format("hard negatives: attribute \"{}\": expected texture, motion, class or size", attribute));
}

int values_of(std::string_view attribute) {
  if (attribute == "texture") return int(kSynthTextures.size());
  if (attribute == "motion") return int(kSynthMotions.size());
  if (attribute == "class") return int(kSynthClasses.size());
  return int(kSynthSizes.size());
}

bool is_ascii(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Chinese captions (caption_zh): one phrase per value, so the primary object's phrase is known in full.
std::optional<std::string> swap_chinese(const std::string& caption, const SynthObject& primary,
                                        const SynthObject& swapped, std::string_view attribute) {
  const std::string object = zh_object_phrase(primary);
  const size_t at = caption.find(object);
  if (at == std::string::npos) return std::nullopt;
  if (attribute != "motion") {
    return caption.substr(0, at) + zh_object_phrase(swapped) + caption.substr(at + object.size());
  }
  const std::string motion = zh_motion_phrase(primary.motion);
  const size_t m = caption.find(motion, at + object.size());
  if (m == std::string::npos) return std::nullopt;
  return caption.substr(0, m) + zh_motion_phrase(swapped.motion) + caption.substr(m + motion.size());
}

}  // namespace

std::optional<SynthObject> primary_object(const core::Json& labels) {
  if (!labels.is_object() || !labels.contains("objects") || !labels["objects"].is_array() || labels["objects"].empty()) {
    return std::nullopt;
  }
  const core::Json& o = labels["objects"][0];
  if (!o.is_object()) return std::nullopt;
  auto field = [&](const char* name) { return o.contains(name) ? o[name] : core::Json(); };
  SynthObject object;
  object.cls = index_of(kSynthClasses, field("class"));
  object.colour = index_of(kSynthColours, field("colour"));
  object.texture = index_of(kSynthTextures, field("texture"));
  object.size = index_of(kSynthSizes, field("size"));
  object.motion = index_of(kSynthMotions, field("motion"));
  if (object.cls < 0 || object.colour < 0 || object.texture < 0 || object.size < 0 || object.motion < 0) return std::nullopt;
  return object;
}

bool has_attribute_labels(const Dataset& dataset) {
  return std::any_of(dataset.clips.begin(), dataset.clips.end(),
                     [](const ClipRecord& clip) { return primary_object(clip.labels).has_value(); });
}

std::optional<std::string> swap_attribute(const std::string& caption, const SynthObject& primary,
                                          std::string_view attribute, int new_value) {
  SynthObject swapped = primary;
  int& value = value_of(swapped, attribute);
  if (new_value < 0 || new_value >= values_of(attribute) || new_value == value) return std::nullopt;
  const int old_value = value;
  value = new_value;
  if (!is_ascii(caption)) return swap_chinese(caption, primary, swapped, attribute);

  const std::vector<PhraseMatch> matches = find_attribute_phrases(caption, attribute);
  if (matches.empty() || matches.front().value != old_value) return std::nullopt;
  const PhraseMatch& m = matches.front();  // captions name the primary object first
  const auto slots = caption_phrase_slots(attribute);
  const std::vector<std::string>& old_phrases = slots[m.slot][size_t(old_value)];
  const std::vector<std::string>& new_phrases = slots[m.slot][size_t(new_value)];
  const size_t rank = static_cast<size_t>((double(m.paraphrase) + 0.5) * double(new_phrases.size()) /
                                          double(old_phrases.size()));
  return replace_phrase(caption, m, new_phrases[std::min(rank, new_phrases.size() - 1)]);
}

std::vector<std::string> hard_negative_captions(const std::string& caption, const core::Json& labels, int64_t count,
                                                uint64_t seed) {
  std::vector<std::string> out;
  const std::optional<SynthObject> primary = primary_object(labels);
  if (!primary || count <= 0) return out;
  core::SplitMix64 draws(seed);
  std::vector<std::string_view> order(kHardNegativeAttributes.begin(), kHardNegativeAttributes.end());
  draws.shuffle(order);
  // Values still to try per attribute, in draw order.
  std::vector<std::vector<int>> candidates(order.size());
  for (size_t a = 0; a < order.size(); ++a) {
    SynthObject copy = *primary;
    const int current = value_of(copy, order[a]);
    for (int v = 0; v < values_of(order[a]); ++v) {
      // A class swap stays within its kind: garment for garment, shape for shape.
      if (order[a] == "class" && (v < kSynthGarmentClasses) != (current < kSynthGarmentClasses)) continue;
      if (v != current) candidates[a].push_back(v);
    }
    draws.shuffle(candidates[a]);
  }
  std::set<std::string> seen = {caption};
  bool progressed = true;
  while (int64_t(out.size()) < count && progressed) {
    progressed = false;
    for (size_t a = 0; a < order.size() && int64_t(out.size()) < count; ++a) {
      while (!candidates[a].empty()) {
        const int value = candidates[a].back();
        candidates[a].pop_back();
        std::optional<std::string> text = swap_attribute(caption, *primary, order[a], value);
        if (!text) {
          candidates[a].clear();  // the caption does not name this attribute where expected
          break;
        }
        if (seen.insert(*text).second) {
          out.push_back(std::move(*text));
          progressed = true;
          break;
        }
      }
    }
  }
  return out;
}

std::vector<ClipGroupKey> clip_group_keys(const Dataset& dataset) {
  std::vector<ClipGroupKey> keys;
  keys.reserve(dataset.clips.size());
  for (const ClipRecord& clip : dataset.clips) {
    const std::optional<SynthObject> o = primary_object(clip.labels);
    if (!o) {
      keys.emplace_back();
      continue;
    }
    const int scene = clip.labels.contains("background") ? index_of(kSynthBackgrounds, clip.labels["background"]) : -1;
    keys.push_back({o->cls * int64_t(kSynthColours.size()) + o->colour,
                    o->texture * int64_t(kSynthMotions.size()) + o->motion, scene});
  }
  return keys;
}

namespace {

// Greedy groups of `group_size` clips of one bucket with pairwise different variants; `clips` in
// order, buckets by (group, scene) or by group alone. Clips of no full group go to `unplaced`, in
// the order they were met.
void form_groups(const std::vector<int64_t>& clips, const std::vector<ClipGroupKey>& keys, int group_size, bool by_scene,
                 std::vector<std::vector<int64_t>>& groups, std::vector<int64_t>& unplaced) {
  std::map<std::pair<int64_t, int64_t>, size_t> bucket_of;
  std::vector<std::vector<int64_t>> buckets;
  for (int64_t clip : clips) {
    const ClipGroupKey& key = keys[size_t(clip)];
    auto [it, added] = bucket_of.emplace(std::make_pair(key.group, by_scene ? key.scene : -1), buckets.size());
    if (added) buckets.emplace_back();
    buckets[it->second].push_back(clip);
  }
  for (std::vector<int64_t>& remaining : buckets) {
    while (!remaining.empty()) {
      std::vector<int64_t> group = {remaining.front()};
      std::set<int64_t> variants = {keys[size_t(remaining.front())].variant};
      std::vector<int64_t> rest;
      for (size_t i = 1; i < remaining.size(); ++i) {
        const int64_t clip = remaining[i];
        if (int(group.size()) < group_size && variants.insert(keys[size_t(clip)].variant).second) {
          group.push_back(clip);
        } else {
          rest.push_back(clip);
        }
      }
      if (int(group.size()) == group_size) {
        groups.push_back(std::move(group));
      } else {
        unplaced.insert(unplaced.end(), group.begin(), group.end());
      }
      remaining = std::move(rest);
    }
  }
}

}  // namespace

int64_t grouped_epoch_length(int64_t dataset_size, int world, int group_size) {
  const int64_t per_round = int64_t(world) * group_size;
  return (dataset_size + per_round - 1) / per_round * group_size;
}

std::vector<int64_t> grouped_epoch_order(const std::vector<ClipGroupKey>& keys, uint64_t seed, int64_t epoch, int rank,
                                         int world, int group_size) {
  if (world < 1 || rank < 0 || rank >= world) {
    throw core::ConfigError(fmt::format("grouped_epoch_order: rank={} must be in [0, world={})", rank, world));
  }
  if (group_size < 1) throw core::ConfigError(fmt::format("grouped_epoch_order: group_size={} must be >= 1", group_size));
  const auto n = static_cast<int64_t>(keys.size());
  if (n == 0) return {};
  // The shuffle of epoch_order: torch.randperm(n) from a generator seeded with seed + epoch.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed + static_cast<uint64_t>(epoch));
  const at::Tensor permutation = at::randperm(n, generator, torch::kInt64);
  const int64_t* shuffled = permutation.data_ptr<int64_t>();

  // Two passes: buckets by (class, colour, background), then the clips that found no full group
  // there by (class, colour) alone; buckets in order of first appearance. Unlabelled clips are left
  // over.
  std::vector<int64_t> unlabelled, unplaced;
  std::vector<int64_t> labelled;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t clip = shuffled[i];
    (keys[size_t(clip)].group < 0 ? unlabelled : labelled).push_back(clip);
  }
  std::vector<std::vector<int64_t>> groups;
  form_groups(labelled, keys, group_size, /*by_scene=*/true, groups, unplaced);
  std::vector<int64_t> leftover;
  form_groups(unplaced, keys, group_size, /*by_scene=*/false, groups, leftover);
  leftover.insert(leftover.end(), unlabelled.begin(), unlabelled.end());
  // Left-over clips fill groups of their own (no constraint), the last one possibly short.
  for (size_t i = 0; i < leftover.size(); i += size_t(group_size)) {
    groups.emplace_back(leftover.begin() + i, leftover.begin() + std::min(leftover.size(), i + size_t(group_size)));
  }
  // Groups in random order (a second stream of the same generator), short one last.
  const bool short_last = !groups.empty() && int(groups.back().size()) < group_size;
  const int64_t full = int64_t(groups.size()) - (short_last ? 1 : 0);
  const at::Tensor group_order = at::randperm(full, generator, torch::kInt64);
  std::vector<int64_t> flat;
  flat.reserve(size_t(n));
  const int64_t* picked = group_order.data_ptr<int64_t>();
  for (int64_t g = 0; g < full; ++g) {
    const auto& group = groups[size_t(picked[g])];
    flat.insert(flat.end(), group.begin(), group.end());
  }
  if (short_last) flat.insert(flat.end(), groups.back().begin(), groups.back().end());

  // Rank r takes groups r, r + world, ... of the order padded by wrapping.
  const int64_t per_rank = grouped_epoch_length(n, world, group_size);
  std::vector<int64_t> order;
  order.reserve(size_t(per_rank));
  for (int64_t g = 0; g < per_rank / group_size; ++g) {
    const int64_t first = (g * world + rank) * group_size;
    for (int64_t k = 0; k < group_size; ++k) order.push_back(flat[size_t((first + k) % n)]);
  }
  return order;
}

}  // namespace hdv::train
