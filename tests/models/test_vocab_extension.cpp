// Tests for models/vocab_extension.h: which tokens a corpus adds (CJK characters as words of their
// own, continuation pieces, counts and order, limits), the extended token list, and the grown
// text tower (old rows and every other tensor unchanged, new rows drawn from the old rows'
// per-column statistics, seeded; the same text embeddings for text the old vocabulary spelled).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/presets.h"
#include "models/tokenizer.h"
#include "models/vl_model.h"
#include "models/vocab_extension.h"
#include "tests/core/test_support.h"

namespace hdv::models {
namespace {

using Strings = std::vector<std::string>;
using test::error_text;

Tokenizer small_tokenizer() {
  return Tokenizer(Strings{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "猫", "a", "##b"}, {}, "test vocabulary");
}

// Words: the cat 猫 狗 | 狗 河 ab | 狗 , abc -> 10 words; [UNK]: 狗 x3, 河, "," and abc ("a" "##b", then
// no "##c").
const Strings kTexts = {"The cat 猫狗", "狗 河 ab", "狗, abc"};

TEST(VocabExtension, AddsTheMissingCharactersOfUnknownWordsMostFrequentFirst) {
  const VocabExtensionPlan plan = plan_vocab_extension(small_tokenizer(), kTexts);
  // 3 uses, then the ties in byte order ('#' 0x23 < ',' 0x2C < 0xE6, the first byte of 河).
  EXPECT_EQ(plan.tokens, (Strings{"狗", "##c", ",", "河"}));
  EXPECT_EQ(plan.counts, (std::vector<int64_t>{3, 1, 1, 1}));
  EXPECT_EQ(plan.words, 10);
  EXPECT_EQ(plan.unknown_words_before, 6);
  EXPECT_EQ(plan.unknown_words_after, 0);
  EXPECT_EQ(plan.skipped_tokens, 0);
}

TEST(VocabExtension, EveryFixableWordSpellsWithoutUnkAfterTheExtension) {
  const Tokenizer tokenizer = small_tokenizer();
  const Strings texts = {"狗 河 abc", "猫狗河"};
  const VocabExtensionPlan plan = plan_vocab_extension(tokenizer, texts);
  EXPECT_EQ(plan.unknown_words_before, 5);
  EXPECT_EQ(plan.unknown_words_after, 0);
  const Tokenizer extended(extended_tokens(tokenizer, plan.tokens), {}, "extended");
  EXPECT_EQ(extended.tokenize("猫狗河 abc"), (Strings{"猫", "狗", "河", "a", "##b", "##c"}));
  // Ids of the old tokens do not move; new ones follow.
  EXPECT_EQ(extended.token_to_id("##b"), 9);
  EXPECT_EQ(extended.token_to_id(plan.tokens[0]), 10);
}

TEST(VocabExtension, MinCountAndMaxNewLeaveOutTheRarestTokens) {
  VocabExtensionConfig config;
  config.min_count = 2;
  VocabExtensionPlan plan = plan_vocab_extension(small_tokenizer(), kTexts, config);
  EXPECT_EQ(plan.tokens, (Strings{"狗"}));
  EXPECT_EQ(plan.skipped_tokens, 3);  // ##c, 河 and ","
  EXPECT_EQ(plan.unknown_words_after, 3);

  config = {};
  config.max_new = 2;
  plan = plan_vocab_extension(small_tokenizer(), kTexts, config);
  EXPECT_EQ(plan.tokens, (Strings{"狗", "##c"}));
  EXPECT_EQ(plan.skipped_tokens, 2);
  EXPECT_EQ(plan.unknown_words_after, 2);  // 河 and ","
}

TEST(VocabExtension, ErrorsNameTheFieldTheTokenOrTheText) {
  VocabExtensionConfig config;
  config.min_count = 0;
  EXPECT_EQ(error_text<core::ConfigError>([&] { plan_vocab_extension(small_tokenizer(), kTexts, config); }),
            "min_count=0 must be >= 1");
  config = {};
  config.max_new = -1;
  EXPECT_EQ(error_text<core::ConfigError>([&] { plan_vocab_extension(small_tokenizer(), kTexts, config); }),
            "max_new=-1 must be >= 0 (0: no limit)");
  EXPECT_EQ(error_text<core::FormatError>([] { plan_vocab_extension(small_tokenizer(), {"ok", "bad \xff"}); }),
            "corpus text 2: invalid UTF-8 at byte 4");
  EXPECT_EQ(error_text<core::Error>([] { extended_tokens(small_tokenizer(), {"狗", "cat"}); }),
            "token \"cat\" is already in the vocabulary (id 6)");
  EXPECT_EQ(error_text<core::Error>([] { extended_tokens(small_tokenizer(), {"狗", "河", "狗"}); }),
            "token \"狗\" is listed twice");
}

TEST(VocabExtension, GrowsTheTextTowerAndKeepsEverythingElse) {
  torch::manual_seed(5);
  VLModel model(vl_preset("hdvila-tiny"));
  model->eval();
  const int64_t old_vocab = model->config().text.vocab_size;
  const int64_t added = 4000;
  VLModel grown = extend_text_vocabulary(*model, added, /*seed=*/7);
  grown->eval();
  ASSERT_EQ(grown->config().text.vocab_size, old_vocab + added);

  const auto old_state = model->named_parameters();
  int64_t grown_tensors = 0;
  for (const auto& item : grown->named_parameters()) {
    const at::Tensor& old = old_state[item.key()];
    if (item.value().sizes() == old.sizes()) {
      EXPECT_TRUE(torch::equal(item.value(), old)) << item.key();
      continue;
    }
    ++grown_tensors;
    ASSERT_EQ(item.value().size(0), old_vocab + added) << item.key();
    EXPECT_TRUE(torch::equal(item.value().slice(0, 0, old_vocab), old)) << item.key();
    const at::Tensor rows = item.value().slice(0, old_vocab);
    if (old.dim() == 1) {
      EXPECT_TRUE(torch::allclose(rows, old.mean().expand({added}))) << item.key();
    } else {
      // Per column: mean within 5 standard errors, spread within 10% of the old rows'.
      const at::Tensor std = old.std(0);
      EXPECT_LT(((rows.mean(0) - old.mean(0)).abs() / (std / std::sqrt(double(added)))).max().item<double>(), 5.0)
          << item.key();
      EXPECT_LT((rows.std(0) / std - 1).abs().max().item<double>(), 0.1) << item.key();
    }
  }
  EXPECT_EQ(grown_tensors, 3);  // word embeddings, MLM decoder weight and bias
  for (const auto& item : grown->named_buffers()) {
    EXPECT_TRUE(torch::equal(item.value(), model->named_buffers()[item.key()])) << item.key();
  }

  // Text the old vocabulary spelled embeds exactly as before.
  const at::Tensor ids = torch::tensor({{2, 1996, 2417, 3797, 3, 0}}, torch::kLong);
  const at::Tensor mask = torch::tensor({{1, 1, 1, 1, 1, 0}}, torch::kLong);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(grown->encode_text(ids, mask), model->encode_text(ids, mask)));
  // A new id runs through the grown model (and could not through the old one).
  const at::Tensor new_ids = torch::tensor({{int64_t{2}, old_vocab + added - 1, int64_t{3}}}, torch::kLong);
  EXPECT_EQ(grown->encode_text(new_ids, torch::ones({1, 3}, torch::kLong)).sizes().vec(),
            (std::vector<int64_t>{1, model->config().embed_dim}));
}

TEST(VocabExtension, NewRowsDependOnTheSeedOnly) {
  torch::manual_seed(5);
  VLModel model(vl_preset("hdvila-tiny"));
  const auto rows = [&](uint64_t seed) {
    return extend_text_vocabulary(*model, 3, seed)->bert->embeddings->word_embeddings->weight.slice(0, -3).clone();
  };
  EXPECT_TRUE(torch::equal(rows(1), rows(1)));
  EXPECT_FALSE(torch::equal(rows(1), rows(2)));
  EXPECT_EQ(error_text<core::ConfigError>([&] { extend_text_vocabulary(*model, -1); }), "added=-1 must be >= 0");
}

}  // namespace
}  // namespace hdv::models
