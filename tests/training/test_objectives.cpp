// Pre-training objectives: InfoNCE, CMCL with queues, momentum update, BERT masking, MLM loss.
// Expected values are computed here from the formulas, independently of training/objectives.cpp.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "tests/core/test_support.h"
#include "training/objectives.h"

namespace hdv::train {
namespace {

TEST(InfoNce, AlignedOneHotPairsGiveTheClosedFormLoss) {
  // text = video = identity rows: each row's logits are s on the diagonal and 0 elsewhere, so
  // CE = -s + log(e^s + N - 1) in both directions.
  const int64_t n = 4;
  const double s = 1.0 / 0.05;
  at::Tensor eye = torch::eye(n, torch::kFloat64);
  at::Tensor loss = info_nce_loss(eye, eye, torch::full({}, std::log(s), torch::kFloat64));
  EXPECT_NEAR(loss.item<double>(), -s + std::log(std::exp(s) + double(n - 1)), 1e-9);
}

TEST(InfoNce, MatchesAHandComputedAsymmetricExample) {
  at::Tensor text = torch::tensor({{1.0, 0.0}, {0.6, 0.8}}, torch::kFloat64);
  at::Tensor video = torch::tensor({{0.8, 0.6}, {0.0, 1.0}}, torch::kFloat64);
  const double scale = 2.0;
  // logits = scale * text @ video^T = 2 * [[0.8, 0.0], [0.96, 0.8]]
  const double l00 = 1.6, l01 = 0.0, l10 = 1.92, l11 = 1.6;
  double t2v = 0.5 * ((std::log(std::exp(l00) + std::exp(l01)) - l00) + (std::log(std::exp(l10) + std::exp(l11)) - l11));
  double v2t = 0.5 * ((std::log(std::exp(l00) + std::exp(l10)) - l00) + (std::log(std::exp(l01) + std::exp(l11)) - l11));
  at::Tensor loss = info_nce_loss(text, video, torch::full({}, std::log(scale), torch::kFloat64));
  EXPECT_NEAR(loss.item<double>(), 0.5 * (t2v + v2t), 1e-12);
}

TEST(InfoNce, ClampsTheLogitScaleAtOneHundred) {
  at::Tensor eye = torch::eye(3, torch::kFloat64);
  at::Tensor clamped = info_nce_loss(eye, eye, torch::full({}, 50.0, torch::kFloat64));
  at::Tensor at_max = info_nce_loss(eye, eye, torch::full({}, std::log(100.0), torch::kFloat64));
  EXPECT_NEAR(clamped.item<double>(), at_max.item<double>(), 1e-12);
}

TEST(InfoNce, RejectsMismatchedShapes) {
  HDV_EXPECT_THROW_MSG(info_nce_loss(torch::zeros({3, 4}), torch::zeros({2, 4}), torch::zeros({})), core::Error,
                       "text [3, 4] and video [2, 4]: expected two [N, D] tensors of one shape");
}

// Hard negatives (NegCLIP): two clips, two hard-negative slots each, the second clip's second slot
// empty. video 0 = (0.8, 0.6), video 1 = (0.6, 0.8); texts are the unit axes.
struct HardExample {
  at::Tensor text = torch::tensor({{1.0, 0.0}, {0.0, 1.0}}, torch::kFloat64);
  at::Tensor video = torch::tensor({{0.8, 0.6}, {0.6, 0.8}}, torch::kFloat64);
  // clip 0: (0, 1) and (-1, 0); clip 1: (1, 0) and an empty slot
  at::Tensor hard = torch::tensor({{{0.0, 1.0}, {-1.0, 0.0}}, {{1.0, 0.0}, {0.0, 0.0}}}, torch::kFloat64);
  at::Tensor valid = torch::tensor({{true, true}, {true, false}});
};

double log_sum_exp(std::initializer_list<double> values) {
  double sum = 0;
  for (double v : values) sum += std::exp(v);
  return std::log(sum);
}

TEST(HardNegatives, ClipLogitsAreBatchTextsThenTheClipsOwnNegatives) {
  HardExample x;
  const double scale = 2.0;
  at::Tensor logits = clip_video_to_text_logits(x.text, x.video, torch::full({}, std::log(scale), torch::kFloat64),
                                                x.hard, x.valid);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{2, 4}));  // [B, B + K]
  const double inf = std::numeric_limits<double>::infinity();
  // Row i: scale · [video i · text 0, video i · text 1, video i · hard[i][0], video i · hard[i][1]].
  at::Tensor expected = torch::tensor({{1.6, 1.2, 1.2, -1.6}, {1.2, 1.6, 1.2, -inf}}, torch::kFloat64);
  EXPECT_TRUE(torch::allclose(logits, expected, 1e-12, 1e-12)) << logits;
  // The target of row i is column i: the loss is 0.5 · (CE(t→v) + CE(v→t)) with these rows.
  const double t2v = 0.5 * ((log_sum_exp({1.6, 1.2}) - 1.6) + (log_sum_exp({1.2, 1.6}) - 1.6));
  const double v2t = 0.5 * ((log_sum_exp({1.6, 1.2, 1.2, -1.6}) - 1.6) + (log_sum_exp({1.2, 1.6, 1.2}) - 1.6));
  at::Tensor loss = info_nce_loss(x.text, x.video, torch::full({}, std::log(scale), torch::kFloat64), x.hard, x.valid);
  EXPECT_NEAR(loss.item<double>(), 0.5 * (t2v + v2t), 1e-12);
  // Hard negatives only add to the loss.
  at::Tensor plain = info_nce_loss(x.text, x.video, torch::full({}, std::log(scale), torch::kFloat64));
  EXPECT_GT(loss.item<double>(), plain.item<double>());
}

TEST(HardNegatives, CmclHardNegativesHaveASoftmaxOfTheirOwnWithTheQueryCaption) {
  HardExample x;
  const double tau = 0.5;
  at::Tensor logits = cmcl_hard_negative_logits(x.video, x.text, tau, x.hard, x.valid);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{2, 3}));  // [B, 1 + K]
  const double inf = std::numeric_limits<double>::infinity();
  // Row i: [q_v·q_t (the target, column 0) ‖ q_v · hard[i]] / τ.
  at::Tensor expected = torch::tensor({{1.6, 1.2, -1.6}, {1.6, 1.2, -inf}}, torch::kFloat64);
  EXPECT_TRUE(torch::allclose(logits, expected, 1e-12, 1e-12)) << logits;
}

TEST(HardNegatives, CmclLossIsTheQueueRowWithTheKeyPlusTheHardRowWithTheQuery) {
  HardExample x;
  const double tau = 0.5;
  at::Tensor queue = torch::tensor({{1.0, 0.0}, {0.0, 1.0}, {-0.6, 0.8}}, torch::kFloat64);
  // Text keys unlike the queries: the queue row must use them, the hard-negative row must not.
  at::Tensor k_text = torch::tensor({{0.6, 0.8}, {0.8, 0.6}}, torch::kFloat64);
  at::Tensor v2t = cmcl_video_to_text_logits(x.video, k_text, queue, tau);
  ASSERT_EQ(v2t.sizes(), (std::vector<int64_t>{2, 4}));  // [B, 1 + Q], no hard negatives in it
  at::Tensor expected = torch::tensor({{1.92, 1.6, 1.2, 0.0}, {1.92, 1.2, 1.6, 0.56}}, torch::kFloat64);
  EXPECT_TRUE(torch::allclose(v2t, expected, 1e-12, 1e-12)) << v2t;
  // With an empty video queue, t→v has only its positive (CE 0).
  at::Tensor losses = cmcl_losses(x.video, x.text, x.video, k_text, torch::zeros({0, 2}, torch::kFloat64), queue, tau,
                                  x.hard, x.valid);
  EXPECT_NEAR(losses[0].item<double>(),
              (log_sum_exp({1.92, 1.6, 1.2, 0.0}) - 1.92) + (log_sum_exp({1.6, 1.2, -1.6}) - 1.6), 1e-12);
  EXPECT_NEAR(losses[1].item<double>(), (log_sum_exp({1.92, 1.2, 1.6, 0.56}) - 1.92) + (log_sum_exp({1.6, 1.2}) - 1.6),
              1e-12);
  // The hard-negative weight scales that row's cross-entropy only.
  at::Tensor weighted = cmcl_losses(x.video, x.text, x.video, k_text, torch::zeros({0, 2}, torch::kFloat64), queue, tau,
                                    x.hard, x.valid, {}, 3.0);
  EXPECT_NEAR(weighted[1].item<double>(),
              (log_sum_exp({1.92, 1.2, 1.6, 0.56}) - 1.92) + 3.0 * (log_sum_exp({1.6, 1.2}) - 1.6), 1e-12);
}

// CMCL batch negatives (ALBEF): this rank's two clips are rows 1 and 2 of a global batch of three.
TEST(Cmcl, BatchNegativesAreTheOtherKeysOfTheGlobalBatch) {
  HardExample x;
  const double tau = 0.5, inf = std::numeric_limits<double>::infinity();
  at::Tensor queue = torch::tensor({{0.6, 0.8}}, torch::kFloat64);
  at::Tensor batch_text = torch::tensor({{-1.0, 0.0}, {1.0, 0.0}, {0.0, 1.0}}, torch::kFloat64);  // rows 1, 2 = x.text
  at::Tensor logits = cmcl_video_to_text_logits(x.video, x.text, queue, tau, batch_text, 1);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{2, 5}));  // [B, 1 + N + Q]
  // Row i: [q_v·k_t ‖ q_v · batch keys, its own (column 1 + 1 + i) at −∞ ‖ q_v · queue] / τ.
  at::Tensor expected = torch::tensor({{1.6, -1.6, -inf, 1.2, 1.92}, {1.6, -1.2, 1.2, -inf, 2.0}}, torch::kFloat64);
  EXPECT_TRUE(torch::allclose(logits, expected, 1e-12, 1e-12)) << logits;

  // Text→video takes the batch's video keys alike; with an empty video queue only they are negatives.
  at::Tensor batch_video = torch::tensor({{0.0, 1.0}, {0.8, 0.6}, {0.6, 0.8}}, torch::kFloat64);  // rows 1, 2 = x.video
  at::Tensor losses = cmcl_losses(x.video, x.text, x.video, x.text, torch::zeros({0, 2}, torch::kFloat64), queue, tau,
                                  {}, {}, BatchKeys{batch_video, batch_text, 1});
  EXPECT_NEAR(losses[0].item<double>(),
              (log_sum_exp({1.6, -1.6, 1.2, 1.92}) - 1.6) + (log_sum_exp({1.6, 0.0, 1.2}) - 1.6), 1e-12);
  EXPECT_NEAR(losses[1].item<double>(),
              (log_sum_exp({1.6, -1.2, 1.2, 2.0}) - 1.6) + (log_sum_exp({1.6, 2.0, 1.2}) - 1.6), 1e-12);
  // Without batch keys the batch block is absent.
  EXPECT_EQ(cmcl_video_to_text_logits(x.video, x.text, queue, tau).size(1), 2);
}

TEST(Cmcl, BatchNegativesRejectBadKeys) {
  HardExample x;
  at::Tensor queue = torch::zeros({0, 2}, torch::kFloat64);
  HDV_EXPECT_THROW_MSG(cmcl_video_to_text_logits(x.video, x.text, queue, 0.5, torch::zeros({2, 2}, torch::kFloat64), 1),
                       core::Error, "batch keys [2, 2] for queries [2, 2] from row 1: expected [N, D] holding rows 1..2");
  HDV_EXPECT_THROW_MSG(cmcl_losses(x.video, x.text, x.video, x.text, queue, queue, 0.5, {}, {},
                                   BatchKeys{torch::zeros({2, 2}, torch::kFloat64), {}, 0}),
                       core::Error, "CMCL batch keys: give both the video and the text keys of the batch, or neither");
}

TEST(HardNegatives, EmptySlotsChangeNothing) {
  HardExample x;
  at::Tensor none = torch::zeros({2, 2}, torch::kBool);
  at::Tensor log_scale = torch::full({}, std::log(20.0), torch::kFloat64);
  EXPECT_NEAR(info_nce_loss(x.text, x.video, log_scale, x.hard, none).item<double>(),
              info_nce_loss(x.text, x.video, log_scale).item<double>(), 1e-12);
  at::Tensor queue = torch::zeros({0, 2}, torch::kFloat64);
  EXPECT_TRUE(torch::allclose(cmcl_losses(x.video, x.text, x.video, x.text, queue, queue, 0.07, x.hard, none),
                              cmcl_losses(x.video, x.text, x.video, x.text, queue, queue, 0.07)));
}

TEST(HardNegatives, RejectsMismatchedShapes) {
  HardExample x;
  HDV_EXPECT_THROW_MSG(hard_negative_similarities(x.video, torch::zeros({3, 2, 2}), x.valid), core::Error,
                       "hard negatives [3, 2, 2] for video [2, 2]: expected [B, K, D] for [B, D]");
  HDV_EXPECT_THROW_MSG(hard_negative_similarities(x.video, x.hard, torch::ones({2, 3}, torch::kBool)), core::Error,
                       "hard-negative mask [2, 3]: expected [2, 2]");
}

TEST(HardNegatives, WinsCountClipsWhosePositiveBeatsEveryFilledSlot) {
  const double inf = std::numeric_limits<double>::infinity();
  // Clip 0 wins (0.9 > 0.5, 0.2); clip 1 loses to its second slot; clip 2 ties (a loss); clip 3
  // has no filled slot (not counted); clip 4 wins against its one filled slot.
  const at::Tensor positive = torch::tensor({0.9, 0.3, 0.4, 0.1, 0.0}, torch::kFloat64);
  const at::Tensor hard = torch::tensor({{0.5, 0.2}, {0.1, 0.6}, {0.4, -inf}, {-inf, -inf}, {-0.5, -inf}}, torch::kFloat64);
  EXPECT_EQ(hard_negative_wins(positive, hard), (std::pair<int64_t, int64_t>{2, 4}));
  HDV_EXPECT_THROW_MSG(hard_negative_wins(positive, torch::zeros({4, 2})), core::Error,
                       "hard-negative wins: positive [5] and hard [4, 2]: expected [B] and [B, K]");
}

TEST(FeatureQueue, WrapsAroundAndKeepsTheNewestKeys) {
  FeatureQueue queue(5, 1);
  EXPECT_EQ(queue.keys().size(0), 0);
  queue.enqueue(torch::tensor({{1.0f}, {2.0f}, {3.0f}}));
  EXPECT_EQ(queue.keys().size(0), 3);
  queue.enqueue(torch::tensor({{4.0f}, {5.0f}, {6.0f}, {7.0f}}));  // 6 and 7 overwrite 1 and 2
  EXPECT_EQ(queue.count(), 7);
  EXPECT_TRUE(queue.buffer().flatten().equal(torch::tensor({6.0f, 7.0f, 3.0f, 4.0f, 5.0f})));
  queue.enqueue(torch::arange(10, 18, torch::kFloat32).reshape({8, 1}));  // larger than K: last 5 kept
  std::vector<float> held(queue.keys().data_ptr<float>(), queue.keys().data_ptr<float>() + 5);
  std::sort(held.begin(), held.end());
  EXPECT_EQ(held, (std::vector<float>{13, 14, 15, 16, 17}));
}

TEST(FeatureQueue, RestoreChecksTheShape) {
  FeatureQueue queue(4, 2);
  HDV_EXPECT_THROW_MSG(queue.restore(torch::zeros({3, 2}), 1), core::FormatError, "queue buffer [3, 2]: expected [4, 2]");
  queue.restore(torch::ones({4, 2}), 9);
  EXPECT_EQ(queue.count(), 9);
  EXPECT_EQ(queue.keys().size(0), 4);
}

TEST(Cmcl, LossesMatchTheWenLanFormula) {
  const double tau = 0.5;
  at::Tensor qv = torch::tensor({{1.0, 0.0}, {0.0, 1.0}}, torch::kFloat64);
  at::Tensor qt = torch::tensor({{0.6, 0.8}, {0.8, 0.6}}, torch::kFloat64);
  at::Tensor kv = torch::tensor({{0.8, 0.6}, {0.6, 0.8}}, torch::kFloat64);
  at::Tensor kt = torch::tensor({{1.0, 0.0}, {0.0, 1.0}}, torch::kFloat64);
  at::Tensor video_queue = torch::tensor({{-1.0, 0.0}}, torch::kFloat64);
  at::Tensor text_queue = torch::tensor({{0.0, -1.0}, {1.0, 0.0}}, torch::kFloat64);
  at::Tensor losses = cmcl_losses(qv, qt, kv, kt, video_queue, text_queue, tau);
  ASSERT_EQ(losses.sizes(), (std::vector<int64_t>{2}));
  auto ce = [](std::vector<double> logits) {  // positive first
    double sum = 0;
    for (double l : logits) sum += std::exp(l);
    return std::log(sum) - logits[0];
  };
  for (int i = 0; i < 2; ++i) {
    auto dot = [](const at::Tensor& a, const at::Tensor& b) { return (a * b).sum().item<double>(); };
    double v2t = ce({dot(qv[i], kt[i]) / tau, dot(qv[i], text_queue[0]) / tau, dot(qv[i], text_queue[1]) / tau});
    double t2v = ce({dot(qt[i], kv[i]) / tau, dot(qt[i], video_queue[0]) / tau});
    EXPECT_NEAR(losses[i].item<double>(), v2t + t2v, 1e-12) << "pair " << i;
  }
}

TEST(Cmcl, AnEmptyQueueLeavesOnlyThePositive) {
  at::Tensor q = torch::eye(2, torch::kFloat64);
  at::Tensor losses = cmcl_losses(q, q, q, q, torch::zeros({0, 2}, torch::kFloat64), torch::zeros({0, 2}, torch::kFloat64), 0.07);
  EXPECT_NEAR(losses.abs().max().item<double>(), 0.0, 1e-12);  // a softmax over one logit
}

TEST(MomentumUpdate, MovesKeysTowardQueriesAndCopiesBuffers) {
  torch::nn::BatchNorm1d key(2), query(2);
  torch::NoGradGuard no_grad;
  key->weight.fill_(1.0);
  query->weight.fill_(3.0);
  query->running_mean.fill_(0.25);
  momentum_update(*key, *query, 0.9);
  EXPECT_NEAR(key->weight[0].item<float>(), 0.9f * 1.0f + 0.1f * 3.0f, 1e-6);
  EXPECT_NEAR(key->running_mean[1].item<float>(), 0.25f, 1e-7);
  torch::nn::Linear other(2, 3);
  HDV_EXPECT_THROW_MSG(momentum_update(*other, *query, 0.9), core::Error, "momentum update: key encoder has 2 parameters");
}

TEST(MaskTokens, MasksOnlyRealNonSpecialTokensInBertProportions) {
  const MaskingTokens tokens{101, 102, 0, 103, 30522};
  const int64_t b = 400, l = 40;
  at::Tensor ids = torch::randint(1000, 30000, {b, l}, torch::kLong);
  ids.select(1, 0).fill_(101);
  ids.select(1, 30).fill_(102);
  ids.narrow(1, 31, l - 31).fill_(0);
  at::Tensor attention = torch::ones({b, l}, torch::kLong);
  attention.narrow(1, 31, l - 31).fill_(0);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(7);
  MaskedTokens masked = mask_tokens(ids, attention, tokens, 0.15, generator);

  at::Tensor chosen = masked.labels.ne(-100);
  EXPECT_EQ(chosen.select(1, 0).sum().item<int64_t>(), 0);   // [CLS]
  EXPECT_EQ(chosen.select(1, 30).sum().item<int64_t>(), 0);  // [SEP]
  EXPECT_EQ(chosen.narrow(1, 31, l - 31).sum().item<int64_t>(), 0);  // padding
  EXPECT_TRUE(masked.labels.masked_select(chosen).equal(ids.masked_select(chosen)));
  const double candidates = double(b * 29);
  const double share = chosen.sum().item<double>() / candidates;
  EXPECT_NEAR(share, 0.15, 0.01);
  const double n = chosen.sum().item<double>();
  const double as_mask = (chosen & masked.input_ids.eq(103)).sum().item<double>() / n;
  const double kept = (chosen & masked.input_ids.eq(ids)).sum().item<double>() / n;
  EXPECT_NEAR(as_mask, 0.8, 0.03);
  EXPECT_NEAR(kept, 0.1, 0.02);  // random replacements rarely hit the original id
  EXPECT_TRUE(masked.input_ids.masked_select(~chosen).equal(ids.masked_select(~chosen)));

  auto again = at::make_generator<at::CPUGeneratorImpl>(7);
  EXPECT_TRUE(mask_tokens(ids, attention, tokens, 0.15, again).input_ids.equal(masked.input_ids));
}

TEST(MlmLoss, SumsCrossEntropyOverLabelledPositionsOnly) {
  at::Tensor logits = torch::tensor({{{2.0f, 0.0f, 0.0f}, {0.0f, 1.0f, 0.0f}}}, torch::kFloat32);  // [1, 2, 3]
  at::Tensor labels = torch::tensor({{0, -100}}, torch::kLong);
  double expected = std::log(std::exp(2.0) + 2.0) - 2.0;
  EXPECT_NEAR(mlm_loss_sum(logits, labels).item<double>(), expected, 1e-6);
  HDV_EXPECT_THROW_MSG(mlm_loss_sum(logits, torch::zeros({2, 2}, torch::kLong)), core::Error,
                       "mlm loss: logits [1, 2, 3] and labels [2, 2]");
}

TEST(ContrastiveConfig, BatchNegativesAreForCmclOnly) {
  ContrastiveConfig config;
  config.batch_negatives = true;
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError,
                       "contrastive.batch_negatives=true is only for mode \"cmcl\" (mode \"clip\" already contrasts "
                       "every pair of the global batch)");
  config.mode = "cmcl";
  EXPECT_NO_THROW(config.validate());
  config.hard_negative_weight = 0;
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError, "contrastive.hard_negative_weight=0 must be in (0, 100]");
  config.hard_negative_weight = 4;
  EXPECT_NO_THROW(config.validate());
  config.mode = "clip";
  config.batch_negatives = false;
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError,
                       "contrastive.hard_negative_weight=4 is only for mode \"cmcl\" (mode \"clip\" puts the swapped "
                       "captions in the batch's softmax)");
}

TEST(ContrastiveConfig, RejectsUnknownModeAndBadMomentum) {
  ContrastiveConfig config;
  config.mode = "moco";
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError, "contrastive.mode=\"moco\": expected \"clip\" or \"cmcl\"");
  config.mode = "cmcl";
  config.momentum = 1.0;
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError, "contrastive.momentum=1 must be in [0, 1)");
  config.momentum = 0.99;
  config.hard_negatives = -1;
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError, "contrastive.hard_negatives=-1 must be in [0, 64]");
}

}  // namespace
}  // namespace hdv::train
