// Tests for training/attribute_probe.h: captions rewritten for every value of one attribute, in the
// phrase's own place, with the article fixed; captions with no or several phrases left out; and
// the rewrites of real SynthVid captions differ from the original only in the probed phrase.
#include <gtest/gtest.h>

#include "training/attribute_probe.h"
#include "training/synthvid.h"

namespace hdv::train {
namespace {

// Scene draws with one object per clip.
SceneOptions one_object_scenes() {
  SceneOptions options;
  options.second_object_prob = 0.0;
  return options;
}

TEST(ProbeCaptions, SwapsTheTextureWordInItsOwnPlace) {
  auto probes = probe_captions("On a beach, a large red t-shirt with stripes is sliding to the left.", "texture", 1);
  ASSERT_TRUE(probes);
  ASSERT_EQ(probes->size(), 3u);
  EXPECT_EQ((*probes)[0], "On a beach, a large red t-shirt with no pattern is sliding to the left.");
  EXPECT_EQ((*probes)[1], "On a beach, a large red t-shirt with stripes is sliding to the left.");
  EXPECT_EQ((*probes)[2], "On a beach, a large red t-shirt with dots is sliding to the left.");
  // Before the noun, and "pinstriped" is not "striped" inside another word.
  probes = probe_captions("A pinstriped coat in blue, small and growing in a forest.", "texture", 1);
  ASSERT_TRUE(probes);
  EXPECT_EQ((*probes)[0], "A plain coat in blue, small and growing in a forest.");
  EXPECT_EQ((*probes)[2], "A dotted coat in blue, small and growing in a forest.");
}

TEST(ProbeCaptions, TheArticleFollowsTheNewWord) {
  auto probes = probe_captions("An orange bag is moving left.", "colour", 1);
  ASSERT_TRUE(probes);
  EXPECT_EQ((*probes)[0], "A red bag is moving left.");
  EXPECT_EQ((*probes)[1], "An orange bag is moving left.");
  EXPECT_EQ((*probes)[7], "A white bag is moving left.");
  probes = probe_captions("we see a plain square", "texture", 0);
  ASSERT_TRUE(probes);
  EXPECT_EQ((*probes)[1], "we see a striped square");
}

TEST(ProbeCaptions, MotionPhrasesAndWholeWordsOnly) {
  // "t-shirt" is one word: "shirt" inside it is not the class "shirt".
  auto probes = probe_captions("A small pink t-shirt standing still.", "class", 0);
  ASSERT_TRUE(probes);
  EXPECT_EQ(probes->size(), 14u);
  EXPECT_EQ((*probes)[6], "A small pink shirt standing still.");
  probes = probe_captions("A small pink t-shirt standing still.", "motion", 4);
  ASSERT_TRUE(probes);
  EXPECT_EQ((*probes)[0], "A small pink t-shirt moving left.");
}

TEST(ProbeCaptions, LeavesOutCaptionsWithoutExactlyOnePhraseOfTheTrueValue) {
  EXPECT_FALSE(probe_captions("A bag on a table.", "colour", 0));                 // no colour word
  EXPECT_FALSE(probe_captions("A red bag next to a blue coat.", "colour", 0));    // two
  EXPECT_FALSE(probe_captions("A red bag is moving left.", "colour", 4));         // not the label's value
}

TEST(ProbeCaptions, RealCaptionsChangeOnlyInTheProbedPhrase) {
  int probed = 0;
  for (int64_t index = 0; index < 200; ++index) {
    SynthScene scene = sample_scene("test", index, 7, one_object_scenes());
    const std::string text = caption(scene);
    const SynthObject& o = scene.objects[0];
    for (auto [attribute, value] : {std::pair<std::string_view, int>{"texture", o.texture}, {"motion", o.motion},
                                    {"colour", o.colour}}) {
      auto probes = probe_captions(text, attribute, value);
      if (!probes) continue;
      ++probed;
      ASSERT_EQ((*probes)[size_t(value)], text);
      for (size_t v = 0; v < probes->size(); ++v) {
        if (int(v) == value) continue;
        // The rewrite names the new value's phrase and no longer the old one's place.
        EXPECT_NE((*probes)[v], text) << attribute << " " << v;
        auto back = probe_captions((*probes)[v], attribute, int(v));
        ASSERT_TRUE(back) << (*probes)[v];
      }
    }
  }
  EXPECT_GT(probed, 400) << "most one-object captions can be probed for texture, motion and colour";
}

}  // namespace
}  // namespace hdv::train
