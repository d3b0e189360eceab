// Hard negatives for contrastive pre-training on SynthVid (issue 24; docs/design.md §10; NegCLIP,
// Yuksekgonul et al. ICLR 2023, arXiv 2210.01936):
//   - captions: each clip's caption with exactly one attribute of its primary object swapped
//     (texture, motion, class or size), everything else left as written, which join that clip's
//     video→text softmax (objectives.h, hard_negative_logits);
//   - batches: an epoch order whose consecutive groups of clips share the primary object's class
//     and colour but differ in texture or motion, so colour and class alone no longer separate a
//     batch (feature suppression, Chen et al. arXiv 2011.02803).
// Both need SynthVid's labels (labels.jsonl); real datasets have none, and the trainer turns the
// feature off for them.
//
// A swap re-writes the caption the way the synthesiser would have written it with the other value:
// the phrase of the primary object (captions name it first) is replaced in its own place by the new
// value's phrase of the same paraphrase slot and rank (synthvid.cpp draws paraphrases with one
// uniform draw, so rank i of n maps to rank floor((i + 0.5)·n'/n) of n'), and an "a"/"an" before it
// follows. English, ASR-style and Chinese captions (text_zh; there the measure word follows a new
// class: 一件外套 -> 一条裤子) all work.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "training/dataset.h"
#include "training/synthvid.h"

namespace hdv::train {

// The attributes a hard negative swaps, in the order a clip's negatives cycle through them.
inline constexpr std::array<std::string_view, 4> kHardNegativeAttributes = {"texture", "motion", "class", "size"};

// The primary object (objects[0]) of a SynthVid labels.jsonl line: class, colour, texture, size and
// motion (the other fields keep their defaults); std::nullopt when a field is missing or unknown.
std::optional<SynthObject> primary_object(const core::Json& labels);

// Does any clip of the dataset carry SynthVid labels with a primary object?
bool has_attribute_labels(const Dataset& dataset);

// `caption` with the primary object's `attribute` ("texture", "motion", "class", "size") set to
// `new_value`. std::nullopt when new_value equals the object's value or is out of range, or when the
// caption does not name the object's value where the primary object's phrase should be (the first
// phrase of the attribute; Chinese: the object's phrase and the motion after it).
std::optional<std::string> swap_attribute(const std::string& caption, const SynthObject& primary,
                                          std::string_view attribute, int new_value);

// Up to `count` distinct hard-negative captions for one clip: attributes taken in turn from
// kHardNegativeAttributes (a seed-shuffled order), each time a new value drawn among those not used
// yet (a class from the same kind: garment for garment, shape for shape). Fewer when the caption
// offers fewer swaps; none without labels. Deterministic for a given seed.
std::vector<std::string> hard_negative_captions(const std::string& caption, const core::Json& labels, int64_t count,
                                                uint64_t seed);

// What groups a clip: the primary object's class and colour (`group`), and what must differ inside a
// group: its texture and motion (`variant`). `scene` is the clip's background, which a group shares
// where the data allows (the caption names it, so a group that differs in background is still told
// apart by background alone). -1 for a clip without labels (`scene`: without a known background).
struct ClipGroupKey {
  int64_t group = -1;
  int64_t variant = -1;
  int64_t scene = -1;
};
std::vector<ClipGroupKey> clip_group_keys(const Dataset& dataset);

// The epoch order of one rank (loader.h, epoch_order) in groups of `group_size` consecutive
// positions. The clips are shuffled by (seed, epoch) as epoch_order does; then, within each
// (class, colour, background) bucket in that order, groups are filled greedily with clips whose
// (texture, motion) differ from every clip already in the group; clips that found no full group
// there get a second pass within (class, colour) alone. Clips left over (no labels, or no partner)
// fill the remaining groups in shuffled order. Groups are shuffled, the order is padded by wrapping
// to a multiple of world * group_size, and rank r takes groups r, r + world, ...:
// grouped_epoch_length(N, world, group_size) positions each.
std::vector<int64_t> grouped_epoch_order(const std::vector<ClipGroupKey>& keys, uint64_t seed, int64_t epoch, int rank,
                                         int world, int group_size);
int64_t grouped_epoch_length(int64_t dataset_size, int world, int group_size);

}  // namespace hdv::train
