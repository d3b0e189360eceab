// The VL model: presets (hdvila-base's parameter count against the paper's 0.46 B), the joint
// embeddings, the stage-2 forward with segment aggregation, and config errors.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/config.h"
#include "core/error.h"
#include "models/presets.h"
#include "tests/core/test_support.h"

namespace hdv::models {
namespace {

using Shape = std::vector<int64_t>;

int64_t total_parameters(VLModelImpl& model, bool with_mlm) {
  int64_t total = 0;
  for (const auto& [component, count] : component_parameter_counts(model)) {
    if (with_mlm || component != "MLM head") total += count;
  }
  return total;
}

// hdvila-tiny inputs: batch 2, 2 segments, keyframes 64 x 128, T = 3 (2 neighbours at 16 x 32).
struct TinyBatch {
  at::Tensor ids = torch::tensor({{101, 1037, 2417, 3797, 102, 0}, {101, 2630, 4524, 102, 0, 0}}, torch::kLong);
  at::Tensor mask = ids.ne(0).to(torch::kLong);
  at::Tensor keyframes = torch::rand({2, 2, 3, 64, 128}) * 2 - 1;
  at::Tensor neighbours = torch::rand({2, 2, 2, 3, 16, 32}) * 2 - 1;
};

TEST(VLModel, BaseHasThePapersParameterCount) {
  torch::NoGradGuard no_grad;
  VLModel base(vl_preset("hdvila-base"));
  const double without_mlm = double(total_parameters(*base, false));
  const double with_mlm = double(total_parameters(*base, true));
  EXPECT_NEAR(without_mlm / 0.46e9, 1.0, 0.02) << without_mlm;  // docs/design.md §4: ~0.46 B
  EXPECT_NEAR(with_mlm / 0.49e9, 1.0, 0.02) << with_mlm;
  std::map<std::string, int64_t> counts;
  for (const auto& [component, count] : component_parameter_counts(*base)) counts[component] = count;
  EXPECT_EQ(counts["video: HR ResNet"], 23508032);  // torchvision resnet50 without fc
  EXPECT_NEAR(counts["video: space-time Transformer"] / 71e6, 1.0, 0.02);
  EXPECT_NEAR((counts["text encoder (embeddings, layers, pooler)"] + counts["cross-modal Transformer"]) / 335e6, 1.0, 0.02);
}

TEST(VLModel, EmbeddingsAreUnitVectorsInOneSpace) {
  torch::manual_seed(0);
  VLModel model(vl_preset("hdvila-tiny"));
  model->eval();
  TinyBatch batch;
  at::Tensor text = model->encode_text(batch.ids, batch.mask);
  at::Tensor video = model->encode_video(batch.keyframes, batch.neighbours);
  at::Tensor image = model->encode_image(torch::rand({3, 3, 64, 128}) * 2 - 1);
  EXPECT_EQ(text.sizes(), (Shape{2, 32}));
  EXPECT_EQ(video.sizes(), (Shape{2, 32}));
  EXPECT_EQ(image.sizes(), (Shape{3, 32}));
  for (const at::Tensor& e : {text, video, image}) {
    EXPECT_TRUE(torch::allclose(e.norm(2, 1), torch::ones({e.size(0)}), 1e-5, 1e-5));
  }
  // Padding does not change a text's embedding: masked mean pooling ignores it.
  at::Tensor shorter = model->encode_text(batch.ids.narrow(1, 0, 5), batch.mask.narrow(1, 0, 5));
  EXPECT_TRUE(torch::allclose(shorter[0], text[0], 1e-5, 1e-6));
}

TEST(VLModel, StaticClipOfAnImageEqualsTheVideoOfThatClip) {
  torch::manual_seed(0);
  VLModel model(vl_preset("hdvila-tiny"));
  model->eval();
  at::Tensor image = torch::rand({1, 3, 64, 128}) * 2 - 1;
  namespace F = torch::nn::functional;
  at::Tensor low = F::interpolate(image, F::InterpolateFuncOptions().size(std::vector<int64_t>{16, 32}).mode(torch::kBicubic).align_corners(false)).clamp(-1, 1);
  at::Tensor keyframes = image.unsqueeze(1);
  at::Tensor neighbours = low.unsqueeze(1).expand({1, 2, 3, 16, 32}).unsqueeze(1);
  EXPECT_TRUE(torch::allclose(model->encode_image(image), model->encode_video(keyframes, neighbours), 1e-5, 1e-6));
}

TEST(VLModel, PretrainForwardGivesMlmAndMatchingLogits) {
  torch::manual_seed(0);
  VLConfig config = vl_preset("hdvila-tiny");
  config.vtm_head = true;
  VLModel model(config);
  model->eval();
  TinyBatch batch;
  PretrainOutput out = model->forward(batch.ids, batch.mask, batch.keyframes, batch.neighbours);
  EXPECT_EQ(out.mlm_logits.sizes(), (Shape{2, 6, 30522}));
  EXPECT_EQ(out.vtm_logits.sizes(), (Shape{2, 2}));
  EXPECT_TRUE(torch::isfinite(out.mlm_logits).all().item<bool>());
  // The MLM decoder starts as a copy of the word embeddings, not tied to them.
  EXPECT_TRUE(torch::equal(model->mlm->decoder->weight, model->bert->embeddings->word_embeddings->weight));
  EXPECT_NE(model->mlm->decoder->weight.data_ptr(), model->bert->embeddings->word_embeddings->weight.data_ptr());
}

TEST(VLModel, SegmentAggregation) {
  at::Tensor scores = torch::tensor({{{1.0f, 2.0f}, {3.0f, 0.0f}}});  // [B=1, S=2, 2]
  at::Tensor lse = aggregate_segments(scores, "lse");
  EXPECT_NEAR(lse[0][0].item<float>(), std::log(std::exp(1.0f) + std::exp(3.0f)), 1e-5);
  EXPECT_NEAR(aggregate_segments(scores, "mean")[0][1].item<float>(), 1.0f, 1e-6);
  HDV_EXPECT_THROW_MSG(aggregate_segments(scores, "max"), core::ConfigError, "segment_aggregation=\"max\" must be lse or mean");
}

TEST(VLModel, RejectsBadInputsNamingTheTensor) {
  VLModel model(vl_preset("hdvila-tiny"));
  TinyBatch batch;
  HDV_EXPECT_THROW_MSG(model->encode_video(batch.keyframes.select(1, 0), batch.neighbours), core::Error,
                       "keyframes: expected [B, S, 3, H, W], got [2, 3, 64, 128]");
  HDV_EXPECT_THROW_MSG(model->encode_video(batch.keyframes, batch.neighbours.narrow(1, 0, 1)), core::Error,
                       "neighbours: expected [2, 2, T-1, 3, h, w] (batch and segments of the keyframes), got [2, 1, 2, 3, 16, 32]");
  HDV_EXPECT_THROW_MSG(model->encode_image(torch::rand({3, 64, 128})), core::Error, "images: expected [B, 3, H, W], got [3, 64, 128]");
}

TEST(VLPresets, UnknownNamesAndBadConfigsAreNamed) {
  HDV_EXPECT_THROW_MSG(vl_preset("hdvila-huge"), core::ConfigError,
                       "unknown preset \"hdvila-huge\" (known: hdvila-base, hdvila-small, hdvila-tiny)");
  VLConfig config = vl_preset("hdvila-tiny");
  config.text_layers = 3;
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError,
                       "text_layers=3 leaves no cross-modal layer (text.layers=3), but mlm_head or vtm_head needs one");
  config = vl_preset("hdvila-tiny");
  config.max_text_len = 100;
  HDV_EXPECT_THROW_MSG(config.validate(), core::ConfigError, "max_text_len=100 must be in 2..text.max_positions=64");
}

TEST(VLPresets, ConfigRoundTripsThroughJson) {
  VLConfig small = vl_preset("hdvila-small");
  core::Json json = core::config_to_json(small);
  EXPECT_EQ(json["text"]["hidden"].get<int>(), 384);
  EXPECT_EQ(json["video"]["backbone"]["base_width"].get<int>(), 16);
  VLConfig back;
  core::config_from_json(json, back, "json");
  EXPECT_EQ(core::config_to_json(back).dump(), json.dump());
  HDV_EXPECT_THROW_MSG(core::config_from_json(core::Json::parse(R"({"video": {"depht": 3}})"), back, "run.json"),
                       core::ConfigError, "run.json: key \"video.depht\": unknown key");
}

}  // namespace
}  // namespace hdv::models
