// Tests for generation/edit_evaluation.h on tiny random models written to disk (generator, VL
// model with a vocabulary beside it, its direction table, an oracle): the bookkeeping of the
// protocol (every source is either edited or skipped as already showing the target, totals are
// the sums, rates are hits / edits), the JSON table, and the errors for values and attributes the
// oracle does not read. The accuracies themselves are only meaningful with trained models
// (docs/generation.md).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "generation/edit_evaluation.h"
#include "generation/pipeline.h"
#include "generation/workers.h"
#include "tests/core/test_support.h"
#include "tests/generation/tiny_models.h"

namespace hdv::gen {
namespace {

using test::error_text;

TEST(EditEvaluation, EverySourceIsEditedOrSkippedAndTotalsAreSums) {
  test::TempDir dir;
  Pipeline pipeline(write_tiny_models(dir));
  ASSERT_TRUE(pipeline.has_directions());
  EXPECT_EQ(pipeline.oracle_values("colour"), (std::vector<std::string>{"red", "blue", "green"}));
  EditEvaluationConfig config;
  config.images = 4;
  config.beta = 0.05;
  int64_t last_step = 0, last_total = 0;
  const EditEvaluation result = evaluate_edits(pipeline, config, [&](int64_t step, int64_t total, double) {
    last_step = step;
    last_total = total;
  });
  EXPECT_EQ(last_step, 12);
  EXPECT_EQ(last_total, 12);
  ASSERT_EQ(result.per_value.size(), 3u);
  int64_t edits = 0, skipped = 0, hits = 0, kept = 0;
  for (const EditScore& s : result.per_value) {
    EXPECT_EQ(s.edits + s.skipped, 4) << s.value;
    EXPECT_LE(s.target_hits, s.edits);
    EXPECT_LE(s.class_kept, s.edits);
    edits += s.edits;
    skipped += s.skipped;
    hits += s.target_hits;
    kept += s.class_kept;
  }
  // Each source shows exactly one colour, so it is skipped for exactly one of the three targets.
  EXPECT_EQ(skipped, 4);
  EXPECT_EQ(result.total.edits, edits);
  EXPECT_EQ(result.total.target_hits, hits);
  EXPECT_EQ(result.total.class_kept, kept);
  EXPECT_DOUBLE_EQ(result.total.target_rate(), double(hits) / double(edits));
  const core::Json json = result.to_json(config);
  EXPECT_EQ(json["attribute"], "colour");
  EXPECT_EQ(json["method"], "directions");
  EXPECT_EQ(json["per_value"].size(), 3u);
  EXPECT_EQ(json["per_value"][1]["value"], "blue");
  EXPECT_EQ(json["total"]["edits"], edits);
}

TEST(EditEvaluation, RejectsValuesAndAttributesTheOracleDoesNotRead) {
  test::TempDir dir;
  Pipeline pipeline(write_tiny_models(dir));
  EditEvaluationConfig config;
  config.images = 1;
  config.values = {"purple"};
  EXPECT_EQ(error_text<core::Error>([&] { evaluate_edits(pipeline, config); }),
            "edit evaluation: \"purple\" is not a colour the oracle reads (red, blue, green)");
  config.values = {};
  config.attribute = "texture";
  EXPECT_EQ(error_text<core::Error>([&] { evaluate_edits(pipeline, config); }),
            "edit evaluation: the oracle does not read \"texture\"");
  config.attribute = "colour";
  config.method = "paint";
  EXPECT_EQ(error_text<core::ConfigError>([&] { evaluate_edits(pipeline, config); }),
            "edit evaluation: method \"paint\" must be directions or optimise");
}

// Two workers share out the edits; the table must be the one a single pipeline gives (both on one
// CPU thread per edit, so the float sums run in the same order), for both methods.
TEST(EditEvaluation, TwoWorkersGiveTheSameTableAsOne) {
  test::TempDir dir;
  const PipelineOptions options = write_tiny_models(dir);
  const ScopedThreads one_thread(1);
  Pipeline single(options);
  std::vector<Pipeline> pair = load_pipelines(options, 2);
  ASSERT_EQ(pair.size(), 2u);
  for (const std::string method : {"directions", "optimise"}) {
    EditEvaluationConfig config;
    config.method = method;
    config.images = 5;
    config.beta = 0.05;
    config.optimise.steps = 3;
    const core::Json one = evaluate_edits(single, config).to_json(config);
    std::vector<int64_t> steps;
    const core::Json two = evaluate_edits(pair, config, [&](int64_t step, int64_t total, double) {
      EXPECT_EQ(total, 15);
      steps.push_back(step);
    }).to_json(config);
    EXPECT_EQ(one.dump(), two.dump()) << method;
    EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})) << method;
  }
}

}  // namespace
}  // namespace hdv::gen
