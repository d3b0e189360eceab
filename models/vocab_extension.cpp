#include "models/vocab_extension.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include <fmt/format.h>

#include "core/error.h"
#include "core/shape_text.h"

namespace hdv::models {

void VocabExtensionConfig::validate() const {
  if (min_count < 1) throw core::ConfigError(fmt::format("min_count={} must be >= 1", min_count));
  if (max_new < 0) throw core::ConfigError(fmt::format("max_new={} must be >= 0 (0: no limit)", max_new));
}

namespace {

// The pieces a word needs so that WordPiece can always spell it: each character, the first as a
// word start and the rest as continuations.
std::vector<std::string> character_pieces(const std::u32string& word) {
  std::vector<std::string> pieces;
  for (size_t i = 0; i < word.size(); ++i) {
    std::string piece = encode_utf8(std::u32string_view(&word[i], 1));
    pieces.push_back(i == 0 ? piece : "##" + piece);
  }
  return pieces;
}

bool spells_unknown(const Tokenizer& tokenizer, const std::u32string& word) {
  const std::vector<int64_t> ids = tokenizer.encode(encode_utf8(word));
  return std::find(ids.begin(), ids.end(), tokenizer.unk_id()) != ids.end();
}

// Counts the words of `texts` and those WordPiece turns into [UNK]; `on_unknown` sees each of them.
template <class OnUnknown>
void scan_words(const Tokenizer& tokenizer, const std::vector<std::string>& texts, int64_t& words, int64_t& unknown,
                OnUnknown on_unknown) {
  const BasicTokenizer basic(tokenizer.config().lower_case);
  for (size_t t = 0; t < texts.size(); ++t) {
    const std::string what = fmt::format("corpus text {}", t + 1);
    for (const std::u32string& word : basic.split_words(texts[t], what)) {
      ++words;
      if (!spells_unknown(tokenizer, word)) continue;
      ++unknown;
      on_unknown(word);
    }
  }
}

}  // namespace

VocabExtensionPlan plan_vocab_extension(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                        const VocabExtensionConfig& config) {
  config.validate();
  VocabExtensionPlan plan;
  std::map<std::string, int64_t> counts;
  scan_words(tokenizer, texts, plan.words, plan.unknown_words_before, [&](const std::u32string& word) {
    if (word.size() > static_cast<size_t>(Tokenizer::kMaxInputCharsPerWord)) return;  // [UNK] in any vocabulary
    std::set<std::string> needed;  // a piece counts once per word
    for (std::string& piece : character_pieces(word)) {
      if (!tokenizer.contains(piece)) needed.insert(std::move(piece));
    }
    for (const std::string& piece : needed) ++counts[piece];
  });

  std::vector<std::pair<std::string, int64_t>> ranked(counts.begin(), counts.end());
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [token, count] : ranked) {
    const bool room = config.max_new == 0 || static_cast<int64_t>(plan.tokens.size()) < config.max_new;
    if (count < config.min_count || !room) {
      ++plan.skipped_tokens;
      continue;
    }
    plan.tokens.push_back(token);
    plan.counts.push_back(count);
  }

  const Tokenizer extended(extended_tokens(tokenizer, plan.tokens), tokenizer.config(), "extended vocabulary");
  int64_t words = 0;
  scan_words(extended, texts, words, plan.unknown_words_after, [](const std::u32string&) {});
  return plan;
}

std::vector<std::string> extended_tokens(const Tokenizer& tokenizer, const std::vector<std::string>& added) {
  std::vector<std::string> tokens;
  tokens.reserve(static_cast<size_t>(tokenizer.vocab_size()) + added.size());
  for (int64_t id = 0; id < tokenizer.vocab_size(); ++id) tokens.push_back(tokenizer.id_to_token(id));
  std::unordered_set<std::string> seen;
  for (const std::string& token : added) {
    if (tokenizer.contains(token)) {
      throw core::Error(fmt::format("token \"{}\" is already in the vocabulary (id {})", token, tokenizer.token_to_id(token)));
    }
    if (!seen.insert(token).second) throw core::Error(fmt::format("token \"{}\" is listed twice", token));
    tokens.push_back(token);
  }
  return tokens;
}

namespace {

// `old` [V, ...] with `added` more rows: 2-D matrices get rows drawn from N(mean, std^2) of each
// column of `old`; vectors (biases) get their mean.
at::Tensor grow_rows(const at::Tensor& old, int64_t added, at::Generator& generator) {
  const at::Tensor source = old.to(torch::kFloat32);
  at::Tensor rows;
  if (source.dim() == 1) {
    rows = source.mean().expand({added}).clone();
  } else {
    const at::Tensor mean = source.mean(0, /*keepdim=*/true);
    const at::Tensor std = source.std(0, /*unbiased=*/true, /*keepdim=*/true);
    std::vector<int64_t> shape = source.sizes().vec();
    shape[0] = added;
    rows = at::normal(0.0, 1.0, shape, generator, torch::TensorOptions().dtype(torch::kFloat32)) * std + mean;
  }
  return torch::cat({source, rows}, 0).to(old.dtype());
}

}  // namespace

VLModel extend_text_vocabulary(VLModelImpl& model, int64_t added, uint64_t seed) {
  if (added < 0) throw core::ConfigError(fmt::format("added={} must be >= 0", added));
  VLConfig config = model.config();
  const int64_t old_vocab = config.text.vocab_size;
  config.text.vocab_size += added;
  VLModel grown(config);
  grown->to(model.parameters().empty() ? torch::kCPU : model.parameters().front().device());

  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto old_parameters = model.named_parameters(/*recurse=*/true);
  const auto old_buffers = model.named_buffers(/*recurse=*/true);
  torch::NoGradGuard no_grad;
  auto copy_all = [&](const torch::OrderedDict<std::string, at::Tensor>& from,
                      torch::OrderedDict<std::string, at::Tensor> to) {
    for (auto& item : to) {
      const at::Tensor* source = from.find(item.key());
      if (source == nullptr) throw core::Error(fmt::format("{}: not in the model being extended", item.key()));
      at::Tensor& target = item.value();
      if (source->sizes() == target.sizes()) {
        target.copy_(*source);
      } else if (source->dim() >= 1 && source->size(0) == old_vocab && target.size(0) == old_vocab + added &&
                 source->sizes().slice(1) == target.sizes().slice(1)) {
        target.copy_(grow_rows(source->cpu(), added, generator));
      } else {
        throw core::Error(fmt::format("{}: shape {} cannot grow into {} (vocabulary {} -> {})", item.key(),
                                      core::shape_text(source->sizes()), core::shape_text(target.sizes()), old_vocab,
                                      old_vocab + added));
      }
    }
  };
  copy_all(old_parameters, grown->named_parameters(/*recurse=*/true));
  copy_all(old_buffers, grown->named_buffers(/*recurse=*/true));
  grown->train(model.is_training());
  return grown;
}

}  // namespace hdv::models
