// Tests for generation/sr_evaluation.h on tiny random models (tests/generation/tiny_models.h):
// every case is scored by all three methods, the bicubic row's PSNR and oracle hits equal what
// an independent computation gives, the same seed with and without a prompt, pictures kept, the
// JSON table, and the errors naming the case or attribute. The accuracies themselves are only
// meaningful with trained models (docs/generation.md).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "generation/pipeline.h"
#include "generation/projector.h"
#include "generation/sr_evaluation.h"
#include "generation/super_resolution.h"
#include "generation/workers.h"
#include "tests/core/test_support.h"
#include "tests/generation/tiny_models.h"

namespace hdv::gen {
namespace {

using test::error_text;

std::vector<SRCase> make_cases(int64_t n, int64_t resolution) {
  torch::manual_seed(5);
  std::vector<SRCase> cases;
  const char* colours[] = {"red", "blue", "green"};
  for (int64_t i = 0; i < n; ++i) {
    SRCase c;
    c.image = torch::rand({3, resolution, resolution}) * 2 - 1;
    c.truth = {{"colour", colours[i % 3]}, {"class", i % 2 == 0 ? "shirt" : "bag"}};
    c.prompt = "a " + c.truth["colour"] + " " + c.truth["class"];
    c.source = "case" + std::to_string(i);
    cases.push_back(c);
  }
  return cases;
}

SREvaluationConfig small_config() {
  SREvaluationConfig config;
  config.scale = 4;
  config.attributes = {"colour", "class"};
  config.sr.steps = 2;
  config.sr.candidates = 1;
  config.sr.fit_samples = 64;
  return config;
}

TEST(SREvaluation, EveryImageIsScoredByEachMethodAndBicubicMatchesAnIndependentComputation) {
  test::TempDir dir;
  Pipeline pipeline(write_tiny_models(dir));
  const int64_t resolution = pipeline.generator().config().resolution;
  const std::vector<SRCase> cases = make_cases(3, resolution);
  SREvaluationConfig config = small_config();
  config.keep_images = 2;
  int64_t last_step = 0, last_total = 0;
  const SREvaluation result = evaluate_super_resolution(pipeline, cases, config, [&](int64_t step, int64_t total, double) {
    last_step = step;
    last_total = total;
  });
  EXPECT_EQ(last_step, 3);
  EXPECT_EQ(last_total, 3);
  ASSERT_EQ(result.methods.size(), 3u);
  EXPECT_EQ(result.methods[0].method, "prompt");
  EXPECT_EQ(result.methods[1].method, "no prompt");
  EXPECT_EQ(result.methods[2].method, "bicubic");
  ASSERT_EQ(result.images.size(), 3u);

  double psnr_sum = 0;
  int64_t colour_hits = 0, class_hits = 0, original_colour = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const at::Tensor original = cases[i].image.unsqueeze(0);
    const at::Tensor bicubic = bicubic_upscale(downscale(original, 4), resolution);
    const double db = psnr(bicubic, original);
    EXPECT_NEAR(result.images[i].psnr.at("bicubic"), db, 1e-4) << cases[i].source;
    psnr_sum += db;
    const AttributeReading read = *pipeline.read_attributes(bicubic[0]);
    EXPECT_EQ(result.images[i].read.at("bicubic").at("colour"), read.values.at("colour"));
    colour_hits += read.values.at("colour") == cases[i].truth.at("colour");
    class_hits += read.values.at("class") == cases[i].truth.at("class");
    original_colour += pipeline.read_attributes(original[0])->values.at("colour") == cases[i].truth.at("colour");
    EXPECT_EQ(result.images[i].source, cases[i].source);
    EXPECT_EQ(result.images[i].psnr.size(), 3u);
  }
  const SRMethodScore& bicubic = result.methods[2];
  EXPECT_EQ(bicubic.images, 3);
  EXPECT_NEAR(bicubic.mean_psnr, psnr_sum / 3.0, 1e-4);
  EXPECT_EQ(bicubic.hits.at("colour"), colour_hits);
  EXPECT_EQ(bicubic.hits.at("class"), class_hits);
  EXPECT_DOUBLE_EQ(bicubic.accuracy("colour"), double(colour_hits) / 3.0);
  EXPECT_EQ(result.original_hits.at("colour"), original_colour);
  for (const SRMethodScore& m : result.methods) EXPECT_EQ(m.images, 3) << m.method;
  // The text term pulls the search: with the prompt the outputs differ from those without it.
  double prompt_effect = 0;
  for (const SRImageRecord& r : result.images) prompt_effect += std::abs(r.psnr.at("prompt") - r.psnr.at("no prompt"));
  EXPECT_GT(prompt_effect, 1e-4);

  ASSERT_EQ(result.pictures.size(), 2u);
  ASSERT_EQ(result.pictures[0].size(), 5u);
  for (const at::Tensor& p : result.pictures[0]) EXPECT_EQ(p.sizes(), (std::vector<int64_t>{3, resolution, resolution}));
  EXPECT_TRUE(torch::allclose(result.pictures[1][4], cases[1].image));

  const core::Json json = result.to_json(config);
  EXPECT_EQ(json["scale"], 4);
  ASSERT_EQ(json["methods"].size(), 3u);
  EXPECT_EQ(json["methods"][2]["method"], "bicubic");
  EXPECT_NEAR(json["methods"][2]["accuracy"]["class"].get<double>(), double(class_hits) / 3.0, 1e-12);
  EXPECT_EQ(json["images"].size(), 3u);
}

TEST(SREvaluation, WithoutTextTheSearchIsTheSameWhateverThePrompt) {
  // text_weight 0: the prompt has no pull, so "prompt" and "no prompt" (same seeds) give one image.
  test::TempDir dir;
  Pipeline pipeline(write_tiny_models(dir));
  SREvaluationConfig config = small_config();
  config.sr.text_weight = 0;
  const SREvaluation result = evaluate_super_resolution(pipeline, make_cases(2, pipeline.generator().config().resolution), config);
  for (const SRImageRecord& r : result.images) EXPECT_NEAR(r.psnr.at("prompt"), r.psnr.at("no prompt"), 1e-6) << r.source;
}

TEST(SREvaluation, ErrorsNameTheCaseOrAttribute) {
  test::TempDir dir;
  Pipeline pipeline(write_tiny_models(dir));
  const int64_t resolution = pipeline.generator().config().resolution;
  std::vector<SRCase> cases = make_cases(1, resolution);
  cases[0].image = torch::zeros({3, resolution * 2, resolution * 2});
  EXPECT_NE(error_text<core::Error>([&] { evaluate_super_resolution(pipeline, cases, small_config()); }).find("case0: image shape"),
            std::string::npos);
  cases = make_cases(1, resolution);
  cases[0].truth.erase("class");
  EXPECT_NE(error_text<core::Error>([&] { evaluate_super_resolution(pipeline, cases, small_config()); }).find("case0: no true value for \"class\""),
            std::string::npos);
  SREvaluationConfig config = small_config();
  config.attributes = {"texture"};
  EXPECT_EQ(error_text<core::Error>([&] { evaluate_super_resolution(pipeline, make_cases(1, resolution), config); }),
            "sr evaluation: the oracle does not read \"texture\"");
  config = small_config();
  config.scale = 3;
  EXPECT_EQ(error_text<core::Error>([&] { evaluate_super_resolution(pipeline, make_cases(1, resolution), config); }),
            "sr evaluation: scale=3 must be 4, 8 or 16");
  EXPECT_EQ(error_text<core::Error>([&] { evaluate_super_resolution(pipeline, {}, small_config()); }), "sr evaluation: no images to score");
}

// Two workers share out the images; the table, every image's record and the kept pictures must be
// the ones a single pipeline gives (both on one CPU thread per image).
TEST(SREvaluation, TwoWorkersGiveTheSameResultAsOne) {
  test::TempDir dir;
  const PipelineOptions options = write_tiny_models(dir);
  const ScopedThreads one_thread(1);
  Pipeline single(options);
  std::vector<Pipeline> pair = load_pipelines(options, 2);
  const std::vector<SRCase> cases = make_cases(5, single.generator().config().resolution);
  SREvaluationConfig config = small_config();
  config.keep_images = 3;
  const SREvaluation one = evaluate_super_resolution(single, cases, config);
  const SREvaluation two = evaluate_super_resolution(pair, cases, config);
  EXPECT_EQ(one.to_json(config).dump(), two.to_json(config).dump());
  ASSERT_EQ(two.pictures.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(two.pictures[i].size(), one.pictures[i].size());
    for (size_t k = 0; k < one.pictures[i].size(); ++k) EXPECT_TRUE(torch::equal(one.pictures[i][k], two.pictures[i][k])) << i << " " << k;
  }
}

}  // namespace
}  // namespace hdv::gen
