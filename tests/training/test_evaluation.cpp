// Retrieval metrics and SynthVid attribute scores (training/evaluation.h) on hand-made
// similarity matrices whose ranks are worked out here.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "tests/core/test_support.h"
#include "training/evaluation.h"

namespace hdv::train {
namespace {

TEST(RetrievalScores, RanksEachCaptionsClipAmongAllClips) {
  // 3 captions x 3 clips; caption i describes clip i.
  at::Tensor sim = torch::tensor({{0.9, 0.1, 0.2},    // clip 0 first            -> rank 1
                                  {0.8, 0.3, 0.5},    // clip 1 below 0 and 2    -> rank 3
                                  {0.1, 0.7, 0.6}});  // clip 2 below clip 1     -> rank 2
  auto [t2v, v2t] = retrieval_scores(sim, {0, 1, 2});
  EXPECT_EQ(t2v.queries, 3);
  EXPECT_DOUBLE_EQ(t2v.r1, 100.0 / 3.0);
  EXPECT_DOUBLE_EQ(t2v.r5, 100.0);
  EXPECT_DOUBLE_EQ(t2v.median_rank, 2.0);
  EXPECT_DOUBLE_EQ(t2v.mean_rank, 2.0);
  // video->text: column 0 (0.9, 0.8, 0.1): caption 0 first -> 1; column 1 (0.1, 0.3, 0.7):
  // caption 1 second -> 2; column 2 (0.2, 0.5, 0.6): caption 2 first -> 1.
  EXPECT_DOUBLE_EQ(v2t.r1, 200.0 / 3.0);
  EXPECT_DOUBLE_EQ(v2t.mean_rank, 4.0 / 3.0);
}

TEST(RetrievalScores, VideoToTextUsesTheBestOfAClipsCaptions) {
  // Clip 0 has captions 0 and 1, clip 1 has caption 2.
  at::Tensor sim = torch::tensor({{0.1, 0.9},    // caption 0 (clip 0) prefers clip 1
                                  {0.8, 0.2},    // caption 1 (clip 0)
                                  {0.5, 0.4}});  // caption 2 (clip 1)
  auto [t2v, v2t] = retrieval_scores(sim, {0, 0, 1});
  EXPECT_EQ(t2v.queries, 3);
  EXPECT_DOUBLE_EQ(t2v.mean_rank, (2.0 + 1.0 + 2.0) / 3.0);
  EXPECT_EQ(v2t.queries, 2);
  // column 0: best own caption 0.8 is first -> 1; column 1: own caption 0.4 is below 0.9 -> 2.
  EXPECT_DOUBLE_EQ(v2t.mean_rank, 1.5);
  EXPECT_DOUBLE_EQ(v2t.median_rank, 1.5);
}

TEST(RetrievalScores, RejectsAMismatchedCaptionList) {
  HDV_EXPECT_THROW_MSG(retrieval_scores(torch::zeros({2, 3}), {0}), core::Error,
                       "retrieval: similarity [2, 3] for 1 captions: expected [captions, clips]");
}

TEST(AttributeScores, CompareTheTopClipWithTheQueryClip) {
  auto label = [](const char* cls, const char* colour, const char* background) {
    return core::Json{{"background", background}, {"objects", {{{"class", cls}, {"colour", colour}}}}};
  };
  std::vector<core::Json> labels = {label("bag", "red", "beach"), label("bag", "blue", "forest"),
                                    label("coat", "red", "beach"), label("coat", "blue", "beach")};
  // Queries for clips 0..3 retrieved clips 2, 1, 2, 0.
  std::vector<AttributeScore> scores = attribute_scores(labels, {0, 1, 2, 3}, {2, 1, 2, 0});
  ASSERT_EQ(scores.size(), 3u);  // class, colour, background (no texture/size/motion labels)
  EXPECT_EQ(scores[0].group, "class");
  EXPECT_DOUBLE_EQ(scores[0].accuracy, 50.0);   // bag/coat: hits for queries 1, 2
  EXPECT_DOUBLE_EQ(scores[0].chance, 50.0);     // 2 x (1/2)^2
  EXPECT_EQ(scores[1].group, "colour");
  EXPECT_DOUBLE_EQ(scores[1].accuracy, 75.0);   // queries 0, 1, 2
  EXPECT_EQ(scores[2].group, "background");
  EXPECT_DOUBLE_EQ(scores[2].accuracy, 100.0);  // every top clip shares its query's background
  EXPECT_DOUBLE_EQ(scores[2].chance, 62.5);     // (3/4)^2 + (1/4)^2
}

}  // namespace
}  // namespace hdv::train
