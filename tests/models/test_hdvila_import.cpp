// HD-VILA's released checkpoints into our VL model (models/hdvila_import.h): every tensor of a
// checkpoint with the official names lands where it belongs, the dead ones are dropped by name,
// stage-1 files fill the cross-modal part as documented, every broken file is refused with all its
// problems and the model untouched, and the names and shapes of the full-size hdvila-base files
// map with nothing left over.
//
// The fixture (build/fixtures/hdvila/) is written by tests/models/make_hdvila_fixture.py, which
// ctest runs first as `models.hdvila_fixture`; the .pt files go through scripts/convert_hdvila_pt.py.
#include <torch/torch.h>

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/assets.h"
#include "core/config.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "models/bert_import.h"
#include "models/hdvila_import.h"
#include "models/module_state.h"
#include "models/presets.h"
#include "tests/core/test_support.h"
#include "tests/test_paths.h"

namespace hdv::models {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtureDir = fs::path(HDV_TEST_FIXTURES_DIR) / "hdvila";

// Fails (never skips) when the generated fixture is absent, saying how to make it.
fs::path fixture(const std::string& name) {
  const fs::path path = kFixtureDir / name;
  if (!fs::exists(path)) {
    ADD_FAILURE() << path.string() << " is missing; create it with `" HDV_TEST_PYTHON " "
                  << HDV_TEST_SOURCE_DIR "/models/make_hdvila_fixture.py --out " << kFixtureDir.string()
                  << "` (ctest runs this as models.hdvila_fixture)";
  }
  return path;
}

VLConfig fixture_config(const std::string& file = "config.json") {
  VLConfig config = vl_preset("hdvila-tiny");
  core::load_config_file(fixture(file), config);
  return config;
}

// The official .pt rewritten as safetensors by the importer's own converter (once per process:
// each run of the venv's Python costs seconds).
fs::path converted(const std::string& pt, const fs::path& dir) {
  static std::map<std::string, fs::path> done;
  if (auto it = done.find(pt); it != done.end() && fs::exists(it->second)) return it->second;
  const fs::path out = dir / (fs::path(pt).stem().string() + ".safetensors");
  convert_bin_with_python(fixture(pt), out, HDV_TEST_PYTHON, core::script_path("convert_hdvila_pt.py"));
  done[pt] = out;
  return out;
}

// Every tensor of `model` equals the one of the same name in `expected`, and the names agree.
void expect_model_equals(VLModelImpl& model, const fs::path& expected, const std::set<std::string>& except = {}) {
  const core::SafetensorsFile file = core::SafetensorsFile::open(expected);
  int64_t compared = 0;
  for (const auto& [name, value] : module_tensors(model)) {
    if (except.count(name) != 0) continue;
    ASSERT_TRUE(file.contains(name)) << name << " is not in " << expected;
    EXPECT_TRUE(torch::equal(value, file.tensor(name).to(value.scalar_type()))) << name;
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int64_t>(file.entries().size()));
}

std::vector<std::string> dropped_names(const HdvilaPlan& plan) {
  std::vector<std::string> names;
  for (const std::string& line : plan.dropped) names.push_back(line.substr(0, line.find(':')));
  return names;
}

const std::vector<std::string> kDeadStage2 = {
    "timesformer.norm.weight",
    "timesformer.norm.bias",
    "transformer.bert.visual_embeddings.position_embeddings.weight",
    "transformer.bert.pooler2.dense.weight",
    "transformer.bert.pooler2.dense.bias",
    "transformer.cls.predictions.decoder.bias",
    "transformer.cls.seq_relationship.weight",
    "transformer.cls.seq_relationship.bias",
};

std::vector<std::string> sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

// The converted files live in one folder per test process, removed after the suite.
class HdvilaImportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("hdv-hdvila-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static fs::path dir_;
};
fs::path HdvilaImportTest::dir_;

TEST_F(HdvilaImportTest, Stage2FileFillsEveryTensorAndDropsOnlyTheDeadOnes) {
  torch::manual_seed(3);
  VLModel model(fixture_config());
  const HdvilaImport done = import_hdvila(*model, converted("stage2.pt", dir_));
  EXPECT_EQ(done.plan.stage, 2);
  EXPECT_EQ(done.plan.copies.size(), 371u);  // the fixture's 379 official tensors less the 8 dead ones
  EXPECT_EQ(sorted(dropped_names(done.plan)), sorted(kDeadStage2));
  EXPECT_EQ(sorted(done.plan.zero_filled), (std::vector<std::string>{"video.fuse.bias", "video.grid_encoder_low.bias"}));
  EXPECT_TRUE(done.plan.not_in_file.empty());
  EXPECT_TRUE(done.notes.empty());
  expect_model_equals(*model, fixture("expected-stage2.safetensors"));
}

TEST_F(HdvilaImportTest, RestoreFilesAndModulePrefixedFilesImportTheSameWeights) {
  for (const std::string pt : {"restore.pt", "module.pt"}) {
    SCOPED_TRACE(pt);
    VLModel model(fixture_config());
    import_hdvila(*model, converted(pt, dir_));
    expect_model_equals(*model, fixture("expected-stage2.safetensors"));
  }
}

TEST_F(HdvilaImportTest, StageThreeLowResolutionBackboneSkipsLayer4OfCnnLow) {
  VLModel model(fixture_config("config-lr3.json"));
  const HdvilaImport done = import_hdvila(*model, converted("stage2.pt", dir_));
  const std::vector<std::string> dropped = dropped_names(done.plan);
  const auto layer4 = std::count_if(dropped.begin(), dropped.end(),
                                    [](const std::string& n) { return n.rfind("cnn_low.layer4.", 0) == 0; });
  EXPECT_EQ(layer4, 24);  // one bottleneck with its downsample: 4 convs and 4 BatchNorms of 5 entries
  EXPECT_EQ(dropped.size(), kDeadStage2.size() + 24);
  expect_model_equals(*model, fixture("expected-stage2-lr3.safetensors"));
}

TEST_F(HdvilaImportTest, Stage1FileFillsTheCrossModalPartAsHdvilaStage2Starts) {
  torch::manual_seed(5);
  VLModel model(fixture_config());
  const at::Tensor visual_before = model->visual_embeddings->row_embeddings->weight.clone();
  const HdvilaImport done = import_hdvila(*model, converted("stage1.pt", dir_));
  EXPECT_EQ(done.plan.stage, 1);
  EXPECT_EQ(sorted(dropped_names(done.plan)), (std::vector<std::string>{"timesformer.norm.bias", "timesformer.norm.weight"}));
  // Text layers 0-1 and everything else from the file; layers 2-3 are copies of 0-1.
  std::set<std::string> cross_modal;
  for (const auto& [name, value] : module_tensors(*model)) {
    if (name.rfind("bert.encoder.layer.2.", 0) == 0 || name.rfind("bert.encoder.layer.3.", 0) == 0 ||
        name.rfind("visual_embeddings.", 0) == 0 || name.rfind("mlm.", 0) == 0) {
      cross_modal.insert(name);
    }
  }
  EXPECT_EQ(std::set<std::string>(done.plan.not_in_file.begin(), done.plan.not_in_file.end()), cross_modal);
  expect_model_equals(*model, fixture("expected-stage1.safetensors"), cross_modal);
  for (auto& item : model->bert->encoder->layer[2]->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), model->bert->encoder->layer[0]->named_parameters()[item.key()])) << item.key();
  }
  EXPECT_TRUE(torch::equal(model->mlm->decoder->weight, model->bert->embeddings->word_embeddings->weight));
  EXPECT_TRUE(torch::equal(model->mlm->bias, torch::zeros_like(model->mlm->bias)));
  EXPECT_TRUE(torch::equal(model->visual_embeddings->row_embeddings->weight, visual_before));
  ASSERT_EQ(done.notes.size(), 3u);
  EXPECT_EQ(done.notes[0],
            "stage-1 file: cross-modal layers 2-3 start as copies of text layers 0-1 (give --bert with BERT-large for "
            "HD-VILA's own stage-2 start)");

  // With the cross-modal layers already loaded (--bert), they are kept.
  VLModel preloaded(fixture_config());
  const at::Tensor layer3 = preloaded->bert->encoder->layer[3]->named_parameters()["output.dense.weight"].clone();
  import_hdvila(*preloaded, converted("stage1.pt", dir_), /*text_tower_preloaded=*/true);
  EXPECT_TRUE(torch::equal(preloaded->bert->encoder->layer[3]->named_parameters()["output.dense.weight"], layer3));
}

TEST_F(HdvilaImportTest, BrokenFilesListEveryProblemAndLeaveTheModelUntouched) {
  VLModel model(fixture_config());
  const at::Tensor before = model->text_proj->weight.clone();
  const fs::path renamed = converted("renamed.pt", dir_);
  HDV_EXPECT_THROW_MSG(import_hdvila(*model, renamed), core::FormatError,
                       renamed.string() + ": 2 problems importing an HD-VILA stage-2 checkpoint: "
                                          "\"transformer.t_proj.weights\" [32, 32] maps to \"text_proj.weights\", which "
                                          "the model does not have; missing \"text_proj.weight\" [32, 32] (HD-VILA "
                                          "stage-2 files have it)");
  HDV_EXPECT_THROW_MSG(import_hdvila(*model, converted("shape.pt", dir_)), core::FormatError,
                       "\"transformer.t_proj.bias\" has shape [33], expected [32] (for \"text_proj.bias\")");
  HDV_EXPECT_THROW_MSG(import_hdvila(*model, converted("dtype.pt", dir_)), core::FormatError,
                       "\"transformer.v_proj.weight\" has dtype I32, expected Float");
  EXPECT_TRUE(torch::equal(model->text_proj->weight, before));

  HDV_EXPECT_THROW_MSG(converted("not-hdvila.pt", dir_), core::Error,
                       "not an HD-VILA checkpoint: no tensor \"transformer.bert.embeddings.word_embeddings.weight\"");
}

TEST_F(HdvilaImportTest, WrongPresetIsRefusedNamingBothGeometries) {
  VLModel tiny(vl_preset("hdvila-tiny"));
  const fs::path file = converted("stage2.pt", dir_);
  HDV_EXPECT_THROW_MSG(
      import_hdvila(*tiny, file), core::FormatError,
      file.string() + ": an HD-VILA stage-2 checkpoint with ResNet blocks [1, 2, 1, 1], stem width 4, 3 input "
                      "channels; BERT vocab 512, hidden 32, 4 layers; video hidden 32, 2 space-time blocks, 2 grid "
                      "tokens, 3 frames does not fit the model (ResNet blocks [1, 1, 1, 1], stem width 4, 3 input "
                      "channels; BERT vocab 30522, hidden 32, 2 text layers + 1 cross-modal (a stage-2 file holds 3); "
                      "video hidden 32, 1 space-time blocks, 2 grid tokens, 3 frames); the released checkpoints fit "
                      "the hdvila-base preset");
}

// The released hdvila-base files by name, shape and dtype (no 1-2 GB file): everything maps, and
// only the documented tensors are left over on either side. Builds hdvila-base (~8 s, 2.4 GB).
TEST(HdvilaImportManifest, FullSizeStage1AndStage2NamesMapOntoHdvilaBase) {
  const VLConfig config = vl_preset("hdvila-base");
  ImportTargets targets;
  {
    VLModel base(config);
    targets = import_targets(*base);
  }
  for (int stage : {1, 2}) {
    SCOPED_TRACE(stage);
    std::ifstream in(fixture("manifest-stage" + std::to_string(stage) + ".json"));
    const core::Json manifest = core::Json::parse(in);
    std::vector<core::TensorEntry> entries;
    for (const core::Json& item : manifest) {
      core::TensorEntry entry;
      entry.name = item["name"].get<std::string>();
      entry.shape = item["shape"].get<std::vector<int64_t>>();
      entry.dtype = core::parse_dtype(item["dtype"].get<std::string>()).value();
      entries.push_back(entry);
    }
    const HdvilaPlan plan = plan_hdvila_import(entries, config, targets, "manifest");
    EXPECT_EQ(plan.stage, stage);
    EXPECT_TRUE(plan.problems.empty()) << ::testing::PrintToString(plan.problems);
    EXPECT_EQ(sorted(plan.zero_filled), (std::vector<std::string>{"video.fuse.bias", "video.grid_encoder_low.bias"}));
    if (stage == 2) {
      EXPECT_EQ(entries.size(), 1135u);
      EXPECT_EQ(plan.copies.size(), 1127u);
      EXPECT_EQ(sorted(dropped_names(plan)), sorted(kDeadStage2));
      EXPECT_TRUE(plan.not_in_file.empty());
      EXPECT_EQ(plan.copies.size() + plan.zero_filled.size(), targets.size());
    } else {
      EXPECT_EQ(entries.size(), 926u);
      EXPECT_EQ(plan.copies.size(), 924u);
      // 12 cross-modal layers of 16 tensors, visual_embeddings (5), the MLM head (6).
      EXPECT_EQ(plan.not_in_file.size(), 12u * 16 + 5 + 6);
      EXPECT_EQ(plan.copies.size() + plan.zero_filled.size() + plan.not_in_file.size(), targets.size());
    }
  }
}

}  // namespace
}  // namespace hdv::models
