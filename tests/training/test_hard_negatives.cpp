// Tests for training/hard_negatives.h: swapped captions change exactly one attribute of the primary
// object and nothing else (checked against the synthesiser re-rendering the caption with the new
// value), in English, ASR-style and Chinese; the per-clip draw; and the grouped epoch order's
// property (groups share class + colour and differ pairwise in texture or motion).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "tests/core/test_support.h"
#include "training/caption_phrases.h"
#include "training/hard_negatives.h"
#include "training/loader.h"
#include "training/synthvid.h"

namespace hdv::train {
namespace {

core::Json labels_of(const SynthObject& o) {
  core::Json object = {{"class", kSynthClasses[o.cls]},
                       {"colour", kSynthColours[o.colour]},
                       {"texture", kSynthTextures[o.texture]},
                       {"size", kSynthSizes[o.size]},
                       {"motion", kSynthMotions[o.motion]}};
  core::Json labels = core::Json::object();
  labels["objects"] = core::Json::array();
  labels["objects"].push_back(object);
  return labels;
}

int& field(SynthObject& o, std::string_view attribute) {
  if (attribute == "texture") return o.texture;
  if (attribute == "motion") return o.motion;
  if (attribute == "class") return o.cls;
  return o.size;
}

int values(std::string_view attribute) {
  if (attribute == "texture") return 3;
  if (attribute == "motion") return 8;
  if (attribute == "class") return 14;
  return 3;
}

// Are the paraphrase rows of both values the same length in every slot (then the synthesiser's one
// uniform draw picks the same rank, and the re-rendered caption must equal the swap exactly)?
bool same_row_lengths(std::string_view attribute, int a, int b) {
  for (const auto& slot : caption_phrase_slots(attribute)) {
    if (slot[size_t(a)].size() != slot[size_t(b)].size()) return false;
  }
  return true;
}

// The text before a phrase without its "a"/"an" (which follows the phrase's first letter).
std::string without_article(std::string prefix) {
  for (const char* article : {"an ", "An ", "a ", "A "}) {
    const std::string a = article;
    if (prefix.size() >= a.size() && prefix.compare(prefix.size() - a.size(), a.size(), a) == 0 &&
        (prefix.size() == a.size() || prefix[prefix.size() - a.size() - 1] == ' ')) {
      return prefix.substr(0, prefix.size() - a.size());
    }
  }
  return prefix;
}

TEST(SwapAttribute, EnglishAndAsrCaptionsEqualTheSynthesisersOwnRewrite) {
  int exact = 0, checked = 0;
  for (int64_t index = 0; index < 60; ++index) {
    const SynthScene scene = sample_scene("train", index, 3);  // one or two objects
    const SynthObject& o = scene.objects[0];
    for (std::string_view attribute : kHardNegativeAttributes) {
      for (int v = 0; v < values(attribute); ++v) {
        SynthScene swapped = scene;
        const int old = field(swapped.objects[0], attribute);
        field(swapped.objects[0], attribute) = v;
        for (auto render : {&caption, &caption_asr}) {
          const std::string text = render(scene);
          std::optional<std::string> out = swap_attribute(text, o, attribute, v);
          if (v == old) {
            EXPECT_FALSE(out) << "the same value is no swap";
            continue;
          }
          ASSERT_TRUE(out) << attribute << " -> " << v << ": " << text;
          ++checked;
          EXPECT_NE(*out, text);
          if (same_row_lengths(attribute, old, v)) {
            // Exactly the caption the synthesiser writes for the scene with the new value: every other
            // word, the template and the other paraphrases are identical.
            EXPECT_EQ(*out, render(swapped)) << attribute << " " << old << " -> " << v;
            ++exact;
            continue;
          }
          // Rows of different lengths (e.g. "with no pattern" has 2 paraphrases, "with stripes" 3):
          // the text around the primary object's phrase is the same, and the phrase is the new value's.
          const PhraseMatch a = find_attribute_phrases(text, attribute).front();
          const PhraseMatch b = find_attribute_phrases(*out, attribute).front();
          EXPECT_EQ(b.value, v);
          EXPECT_EQ(a.slot, b.slot);
          EXPECT_EQ(text.substr(a.pos + a.length), out->substr(b.pos + b.length));
          EXPECT_EQ(without_article(text.substr(0, a.pos)), without_article(out->substr(0, b.pos)));
        }
      }
    }
  }
  EXPECT_GT(checked, 2000);
  EXPECT_GT(exact, checked / 2);
}

TEST(SwapAttribute, ChineseCaptionsEqualTheSynthesisersOwnRewrite) {
  int checked = 0;
  for (int64_t index = 0; index < 60; ++index) {
    const SynthScene scene = sample_scene("test", index, 4);
    const std::string text = caption_zh(scene);
    for (std::string_view attribute : kHardNegativeAttributes) {
      for (int v = 0; v < values(attribute); ++v) {
        SynthScene swapped = scene;
        if (field(swapped.objects[0], attribute) == v) continue;
        field(swapped.objects[0], attribute) = v;
        std::optional<std::string> out = swap_attribute(text, scene.objects[0], attribute, v);
        ASSERT_TRUE(out) << attribute << " -> " << v << ": " << text;
        // A new class brings its measure word: 一件外套 -> 一条裤子.
        EXPECT_EQ(*out, caption_zh(swapped)) << attribute << " -> " << v;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 1000);
}

TEST(SwapAttribute, WorkedExamples) {
  SynthObject o;
  o.cls = 0;      // t-shirt
  o.colour = 0;   // red
  o.texture = 1;  // striped
  o.size = 2;     // large
  o.motion = 0;   // left
  const std::string text = "On a beach, a large red t-shirt with thin stripes is sliding to the left. Next to it, "
                           "a small blue dotted bag is rising.";
  EXPECT_EQ(swap_attribute(text, o, "texture", 2),
            "On a beach, a large red t-shirt with polka dots is sliding to the left. Next to it, a small blue dotted "
            "bag is rising.");
  EXPECT_EQ(swap_attribute(text, o, "size", 0),
            "On a beach, a small red t-shirt with thin stripes is sliding to the left. Next to it, a small blue dotted "
            "bag is rising.");
  EXPECT_EQ(swap_attribute(text, o, "class", 9),
            "On a beach, a large red ankle boot with thin stripes is sliding to the left. Next to it, a small blue "
            "dotted bag is rising.");
  EXPECT_EQ(swap_attribute(text, o, "motion", 6),
            "On a beach, a large red t-shirt with thin stripes is expanding. Next to it, a small blue dotted bag is "
            "rising.");
  // The caption must name the labelled value first: a mismatch is no swap.
  o.texture = 2;
  EXPECT_FALSE(swap_attribute(text, o, "texture", 0));
  EXPECT_FALSE(swap_attribute("A bag.", o, "texture", 0));  // no texture phrase at all
  HDV_EXPECT_THROW_MSG(swap_attribute(text, o, "colour", 1), core::Error,
                       "attribute \"colour\": expected texture, motion, class or size");
}

TEST(HardNegativeCaptions, DistinctSwapsOfOneAttributeEachAndDeterministic) {
  for (int64_t index = 0; index < 40; ++index) {
    const SynthScene scene = sample_scene("train", index, 5);
    const SynthObject& o = scene.objects[0];
    const std::string text = caption(scene);
    const core::Json labels = labels_of(o);
    const std::vector<std::string> negatives = hard_negative_captions(text, labels, 6, 1000 + uint64_t(index));
    ASSERT_EQ(negatives.size(), 6u) << text;
    EXPECT_EQ(negatives, hard_negative_captions(text, labels, 6, 1000 + uint64_t(index)));
    std::set<std::string> distinct(negatives.begin(), negatives.end());
    EXPECT_EQ(distinct.size(), negatives.size());
    EXPECT_EQ(distinct.count(text), 0u);
    // Six negatives cycle through all four attributes: each changes exactly one of them.
    std::map<std::string, int> changed;
    for (const std::string& negative : negatives) {
      int differing = 0;
      for (std::string_view attribute : kHardNegativeAttributes) {
        const int before = find_attribute_phrases(text, attribute).front().value;
        const int after = find_attribute_phrases(negative, attribute).front().value;
        if (before != after) {
          ++differing;
          ++changed[std::string(attribute)];
          if (attribute == "class") EXPECT_EQ(after < kSynthGarmentClasses, before < kSynthGarmentClasses);
        }
      }
      EXPECT_EQ(differing, 1) << negative;
    }
    EXPECT_EQ(changed.size(), 4u);
  }
  // No labels (real data), no negatives.
  EXPECT_TRUE(hard_negative_captions("A red bag is moving left.", core::Json(), 4, 1).empty());
  // A caption that offers only some swaps gives fewer.
  SynthObject bag;
  bag.cls = 8;
  EXPECT_EQ(hard_negative_captions("A bag is moving left.", labels_of(bag), 20, 1).size(), 16u);  // 9 classes, 7 motions
  EXPECT_EQ(hard_negative_captions("A bag.", labels_of(bag), 20, 1).size(), 9u);  // the other 9 garments
}

TEST(PrimaryObject, ReadsLabelsAndRejectsUnknownWords) {
  SynthObject o;
  o.cls = 9;
  o.colour = 7;
  o.texture = 2;
  o.size = 1;
  o.motion = 5;
  std::optional<SynthObject> read = primary_object(labels_of(o));
  ASSERT_TRUE(read);
  EXPECT_EQ(read->cls, 9);
  EXPECT_EQ(read->colour, 7);
  EXPECT_EQ(read->texture, 2);
  EXPECT_EQ(read->size, 1);
  EXPECT_EQ(read->motion, 5);
  core::Json bad = labels_of(o);
  bad["objects"][0]["colour"] = "teal";
  EXPECT_FALSE(primary_object(bad));
  EXPECT_FALSE(primary_object(core::Json()));
}

// Labelled clips: 3 (class, colour) groups of 30 clips with random (texture, motion), 5 unlabelled.
std::vector<ClipGroupKey> grouped_keys() {
  std::vector<ClipGroupKey> keys;
  uint64_t state = 17;
  for (int g = 0; g < 3; ++g) {
    for (int i = 0; i < 30; ++i) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      keys.push_back({g * 8 + 3, int64_t((state >> 33) % 24)});
    }
  }
  for (int i = 0; i < 5; ++i) keys.push_back({});
  return keys;
}

TEST(GroupedEpochOrder, GroupsShareClassAndColourAndDifferInTextureOrMotion) {
  const std::vector<ClipGroupKey> keys = grouped_keys();
  const int group_size = 4;
  const std::vector<int64_t> order = grouped_epoch_order(keys, 7, 0, 0, 1, group_size);
  ASSERT_EQ(int64_t(order.size()), grouped_epoch_length(95, 1, group_size));
  ASSERT_EQ(order.size(), 96u);  // 95 clips padded by wrapping to whole groups
  EXPECT_EQ(std::set<int64_t>(order.begin(), order.end()).size(), 95u);  // every clip once (plus one pad)
  int proper = 0;
  for (size_t g = 0; g < order.size(); g += group_size) {
    std::set<int64_t> groups, variants;
    bool labelled = true;
    for (int k = 0; k < group_size; ++k) {
      const ClipGroupKey& key = keys[size_t(order[g + k])];
      labelled = labelled && key.group >= 0;
      groups.insert(key.group);
      variants.insert(key.variant);
    }
    if (labelled && groups.size() == 1) {
      // A formed group: one (class, colour), pairwise different (texture, motion).
      EXPECT_EQ(variants.size(), size_t(group_size)) << "group at " << g;
      ++proper;
    }
  }
  // 30 clips with 24 variants each make at least 6 groups of 4 per (class, colour).
  EXPECT_GE(proper, 18);
  // Deterministic per (seed, epoch); a new epoch, a new order.
  EXPECT_EQ(order, grouped_epoch_order(keys, 7, 0, 0, 1, group_size));
  EXPECT_NE(order, grouped_epoch_order(keys, 7, 1, 0, 1, group_size));
}

TEST(GroupedEpochOrder, RanksTakeWholeGroupsAndCoverTheEpoch) {
  const std::vector<ClipGroupKey> keys = grouped_keys();
  const std::vector<int64_t> one = grouped_epoch_order(keys, 7, 2, 0, 1, 4);
  const std::vector<int64_t> r0 = grouped_epoch_order(keys, 7, 2, 0, 2, 4);
  const std::vector<int64_t> r1 = grouped_epoch_order(keys, 7, 2, 1, 2, 4);
  ASSERT_EQ(r0.size(), r1.size());
  ASSERT_EQ(int64_t(r0.size()), grouped_epoch_length(95, 2, 4));  // 12 groups of 4 each
  // Rank r holds groups r, r + 2, ... of the one-process order (wrapped past its end).
  for (size_t g = 0; g < r0.size() / 4; ++g) {
    for (size_t k = 0; k < 4; ++k) {
      EXPECT_EQ(r0[g * 4 + k], one[((2 * g) * 4 + k) % 95]);
      EXPECT_EQ(r1[g * 4 + k], one[((2 * g + 1) * 4 + k) % 95]);
    }
  }
  std::set<int64_t> all(r0.begin(), r0.end());
  all.insert(r1.begin(), r1.end());
  EXPECT_EQ(all.size(), 95u);
}

TEST(GroupedEpochOrder, GroupsShareTheBackgroundWhereTheDataAllows) {
  // One (class, colour): 12 clips on background 0 and 12 on background 1 (variants 0..11 each), then
  // 3 on background 2 and 1 on background 3 (variants 20..23): those four make no group of their
  // own background and are grouped by (class, colour) alone.
  std::vector<ClipGroupKey> keys;
  for (int64_t scene : {0, 1}) {
    for (int64_t v = 0; v < 12; ++v) keys.push_back({5, v, scene});
  }
  for (int64_t v = 20; v < 24; ++v) keys.push_back({5, v, v < 23 ? 2 : 3});
  const std::vector<int64_t> order = grouped_epoch_order(keys, 3, 0, 0, 1, 4);
  ASSERT_EQ(order.size(), 28u);
  EXPECT_EQ(std::set<int64_t>(order.begin(), order.end()).size(), 28u);
  std::map<std::set<int64_t>, int> by_scenes;  // the backgrounds of a group -> groups
  for (size_t g = 0; g < order.size(); g += 4) {
    std::set<int64_t> scenes, variants;
    for (size_t k = 0; k < 4; ++k) {
      scenes.insert(keys[size_t(order[g + k])].scene);
      variants.insert(keys[size_t(order[g + k])].variant);
    }
    EXPECT_EQ(variants.size(), 4u) << "group at " << g;
    ++by_scenes[scenes];
  }
  EXPECT_EQ(by_scenes, (std::map<std::set<int64_t>, int>{{{0}, 3}, {{1}, 3}, {{2, 3}, 1}}));
}

TEST(ClipGroupKeys, ClassAndColourGroupTextureAndMotionVaryAndTheBackgroundIsTheScene) {
  Dataset dataset;
  SynthObject o;
  o.cls = 2, o.colour = 3, o.texture = 1, o.motion = 4;
  ClipRecord clip;
  clip.labels = labels_of(o);
  clip.labels["background"] = "snow";
  dataset.clips.push_back(clip);
  clip.labels["background"] = "nowhere";  // not a SynthVid background: no scene, still grouped
  dataset.clips.push_back(clip);
  clip.labels = core::Json();  // no labels at all
  dataset.clips.push_back(clip);
  const std::vector<ClipGroupKey> keys = clip_group_keys(dataset);
  ASSERT_EQ(keys.size(), 3u);
  const int64_t snow = std::find(kSynthBackgrounds.begin(), kSynthBackgrounds.end(), "snow") - kSynthBackgrounds.begin();
  EXPECT_EQ(keys[0].group, 2 * int64_t(kSynthColours.size()) + 3);
  EXPECT_EQ(keys[0].variant, 1 * int64_t(kSynthMotions.size()) + 4);
  EXPECT_EQ(keys[0].scene, snow);
  EXPECT_EQ(keys[1].group, keys[0].group);
  EXPECT_EQ(keys[1].scene, -1);
  EXPECT_EQ(keys[2].group, -1);
  EXPECT_EQ(keys[2].scene, -1);
}

TEST(LoaderConfig, GroupSizeMustDivideTheBatch) {
  LoaderConfig config;
  config.batch_size = 16;
  config.group_size = 3;
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError, "batch_size=16 must be a multiple of group_size=3");
  config.group_size = 1;
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError, "group_size=1 must be 0 (off) or >= 2");
  config.group_size = 4;
  EXPECT_NO_THROW(config.validate());
}

}  // namespace
}  // namespace hdv::train
