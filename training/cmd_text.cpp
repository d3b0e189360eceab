// Text subcommands of hdvila-train:
//   tokenize --vocab FILE --text "..."            token ids as the model sees them, one line
//   vocab --corpus FILE --size N --out vocab.txt  learn a WordPiece vocabulary from a corpus
//   vocab-extend --model M --vocab V --corpus FILE --out M2 --out-vocab V2
//                                                  add the tokens a corpus needs to a VL model's text tower
#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/checkpoint.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "models/tokenizer.h"
#include "models/vl_checkpoint.h"
#include "models/vocab_extension.h"
#include "models/wordpiece_trainer.h"
#include "training/command.h"

namespace hdv::train {

namespace {

std::vector<std::string> split_fields(const std::string& fields) {
  std::vector<std::string> names;
  for (size_t start = 0; start <= fields.size();) {
    const size_t comma = std::min(fields.find(',', start), fields.size());
    std::string name = fields.substr(start, comma - start);
    if (name.empty()) throw core::UsageError(fmt::format("--field \"{}\": an empty field name in the list", fields));
    names.push_back(std::move(name));
    start = comma + 1;
  }
  return names;
}

// The texts of a corpus file: every non-empty line, or with `fields` every line a JSON object
// whose named fields (a string or an array of strings each) are the texts.
std::vector<std::string> read_corpus(const std::string& path, const std::string& fields) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw core::IoError(fmt::format("{}: cannot read the corpus (missing or unreadable)", path));
  const std::vector<std::string> names = fields.empty() ? std::vector<std::string>{} : split_fields(fields);
  std::vector<std::string> texts;
  int64_t line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (names.empty()) {
      texts.push_back(std::move(line));
      continue;
    }
    const std::string where = fmt::format("{}:{}", path, line_number);
    const core::Json object = core::parse_json(line, where);
    if (!object.is_object()) {
      throw core::FormatError(fmt::format("{}: expected a JSON object (--field reads JSON lines), found {}", where,
                                          core::describe_json_value(object)));
    }
    for (const std::string& name : names) {
      auto value = object.find(name);
      if (value == object.end()) continue;
      if (value->is_string()) {
        texts.push_back(value->get<std::string>());
      } else if (value->is_array() && std::all_of(value->begin(), value->end(), [](const core::Json& v) { return v.is_string(); })) {
        for (const core::Json& text : *value) texts.push_back(text.get<std::string>());
      } else {
        throw core::FormatError(fmt::format("{}: field \"{}\": expected a string or an array of strings, found {}", where,
                                            name, core::describe_json_value(*value)));
      }
    }
  }
  if (texts.empty()) {
    throw core::FormatError(names.empty() ? fmt::format("{}: the corpus is empty", path)
                                          : fmt::format("{}: no line has field \"{}\"", path, fields));
  }
  return texts;
}

double percent(int64_t part, int64_t whole) { return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole); }

}  // namespace

void add_text_commands(CLI::App& app, core::CommonOptions& common, Commands& commands) {
  {
    struct Options {
      std::string vocab, text;
      int max_length = 512;
      bool tokens = false;
      bool no_special = false;
      bool cased = false;
    };
    auto options = std::make_shared<Options>();
    CLI::App* sub = app.add_subcommand("tokenize", "Print the WordPiece token ids of a text (as BertTokenizer gives them)");
    sub->add_option("--vocab", options->vocab, "vocab.txt, one token per line")->required();
    sub->add_option("--text", options->text, "Text to tokenize (UTF-8)")->required();
    sub->add_option("--max-length", options->max_length, "Truncate to this many ids, [CLS] and [SEP] included")
        ->check(core::integer_in(2, 1 << 20))
        ->capture_default_str();
    sub->add_flag("--tokens", options->tokens, "Print the word pieces instead of ids");
    sub->add_flag("--no-special", options->no_special, "Leave out [CLS] and [SEP]");
    sub->add_flag("--cased", options->cased, "Keep case and accents (for cased vocabularies)");
    commands.push_back({sub, [options, &common] {
      core::apply_log_options(common);
      models::TokenizerConfig config;
      config.lower_case = !options->cased;
      config.max_length = options->max_length;
      models::Tokenizer tokenizer(options->vocab, config);
      std::vector<int64_t> ids;
      if (options->no_special) {
        ids = tokenizer.encode(options->text);
        if (static_cast<int>(ids.size()) > options->max_length) ids.resize(options->max_length);
      } else {
        models::Encoding encoding = tokenizer.encode_for_model(options->text, options->max_length);
        for (size_t i = 0; i < encoding.input_ids.size(); ++i) {
          if (encoding.attention_mask[i] != 0) ids.push_back(encoding.input_ids[i]);
        }
      }
      std::string line;
      if (options->tokens) {
        std::vector<std::string> pieces;
        for (int64_t id : ids) pieces.push_back(tokenizer.id_to_token(id));
        line = fmt::format("{}", fmt::join(pieces, " "));
      } else {
        line = fmt::format("{}", fmt::join(ids, " "));
      }
      std::printf("%s\n", line.c_str());
    }});
  }
  {
    struct Options {
      std::string corpus, out;
      int size = 8000;
      int min_frequency = 2;
    };
    auto options = std::make_shared<Options>();
    CLI::App* sub = app.add_subcommand("vocab", "Learn a WordPiece vocabulary from a text corpus (one text per line)");
    sub->add_option("--corpus", options->corpus, "UTF-8 text file, one sentence or caption per line")->required();
    sub->add_option("--size", options->size, "Vocabulary size, special tokens included")
        ->check(core::positive_integer())
        ->capture_default_str();
    sub->add_option("--min-frequency", options->min_frequency, "Least count for a merge")
        ->check(core::positive_integer())
        ->capture_default_str();
    sub->add_option("--out", options->out, "Output vocab.txt")->required();
    commands.push_back({sub, [options, &common] {
      core::apply_log_options(common);
      std::ifstream in(options->corpus);
      if (!in) throw core::IoError(fmt::format("{}: cannot read the corpus (missing or unreadable)", options->corpus));
      std::vector<std::string> lines;
      for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
      if (lines.empty()) throw core::FormatError(fmt::format("{}: the corpus is empty", options->corpus));
      models::WordPieceTrainerConfig config;
      config.min_frequency = options->min_frequency;
      core::ConsoleProgress progress("learning vocabulary", "tokens");
      std::vector<std::string> vocab = models::learn_wordpiece_vocab(lines, options->size, config, progress.callback());
      progress.finish();
      models::write_vocab(options->out, vocab);
      std::printf("%zu tokens learned from %zu lines written to %s\n", vocab.size(), lines.size(), options->out.c_str());
    }});
  }
  {
    struct Options {
      std::string model, vocab, corpus, field, out, out_vocab;
      models::VocabExtensionConfig extension;
      uint64_t seed = 0;
      bool cased = false;
    };
    auto options = std::make_shared<Options>();
    CLI::App* sub = app.add_subcommand(
        "vocab-extend",
        "Add the tokens a corpus needs (e.g. the CJK characters of Chinese captions) to a VL model's vocabulary and "
        "text tower");
    sub->add_option("--model", options->model, "VL model checkpoint (vl-model) whose text tower uses --vocab")->required();
    sub->add_option("--vocab", options->vocab, "The model's vocab.txt")->required();
    sub->add_option("--corpus", options->corpus, "UTF-8 text file, one text per line (JSON lines with --field)")->required();
    sub->add_option("--field", options->field,
                    "Read the corpus as JSON lines and take these fields (comma list; e.g. text_zh of clip_text.jsonl)");
    sub->add_option("--min-count", options->extension.min_count, "Least number of [UNK] words a new token must help spell")
        ->check(core::positive_integer())
        ->capture_default_str();
    sub->add_option("--max-new", options->extension.max_new, "Most tokens to add, most frequent first (0: no limit)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    sub->add_option("--seed", options->seed, "Seed of the new embedding rows")->capture_default_str();
    sub->add_flag("--cased", options->cased, "Keep case and accents (for cased vocabularies)");
    sub->add_option("--out", options->out, "Output VL model checkpoint")->required();
    sub->add_option("--out-vocab", options->out_vocab, "Output vocab.txt (the old tokens, then the new ones)")->required();
    commands.push_back({sub, [options, &common] {
      core::apply_log_options(common);
      if (options->out == options->model) {
        throw core::UsageError("--out: names the input --model; write the extended model to a new file");
      }
      if (options->out_vocab == options->vocab) {
        throw core::UsageError("--out-vocab: names the input --vocab; write the extended vocabulary to a new file");
      }
      models::TokenizerConfig tokenizer_config;
      tokenizer_config.lower_case = !options->cased;
      const models::Tokenizer tokenizer(options->vocab, tokenizer_config);
      const core::CheckpointInfo info = core::read_checkpoint_info(options->model);
      models::VLModel model = models::load_vl_model(options->model);
      if (model->config().text.vocab_size != tokenizer.vocab_size()) {
        throw core::FormatError(fmt::format("--vocab {}: {} tokens, but the text tower of {} has a vocabulary of {}",
                                            options->vocab, tokenizer.vocab_size(), options->model,
                                            model->config().text.vocab_size));
      }
      const std::vector<std::string> texts = read_corpus(options->corpus, options->field);
      const models::VocabExtensionPlan plan = models::plan_vocab_extension(tokenizer, texts, options->extension);
      std::printf("corpus: %zu texts, %lld words, %lld of them [UNK] (%.1f%%)\n", texts.size(),
                  static_cast<long long>(plan.words), static_cast<long long>(plan.unknown_words_before),
                  percent(plan.unknown_words_before, plan.words));
      std::string most_frequent;
      for (size_t i = 0; i < plan.tokens.size() && i < 10; ++i) {
        most_frequent += fmt::format("{}{} ({})", i == 0 ? "" : ", ", plan.tokens[i], plan.counts[i]);
      }
      std::printf("adding %zu tokens%s%s\n", plan.tokens.size(), plan.tokens.empty() ? "" : ", most frequent first: ",
                  most_frequent.c_str());
      if (plan.skipped_tokens > 0) {
        std::printf("left out %lld candidate tokens (--min-count %lld, --max-new %lld)\n",
                    static_cast<long long>(plan.skipped_tokens), static_cast<long long>(options->extension.min_count),
                    static_cast<long long>(options->extension.max_new));
      }
      std::printf("[UNK] words with the extended vocabulary: %lld (%.1f%%)\n",
                  static_cast<long long>(plan.unknown_words_after), percent(plan.unknown_words_after, plan.words));
      const std::vector<std::string> tokens = models::extended_tokens(tokenizer, plan.tokens);
      models::VLModel grown =
          models::extend_text_vocabulary(*model, static_cast<int64_t>(plan.tokens.size()), options->seed);
      models::save_vl_model(options->out, *grown, info.preset, info.step);
      models::write_vocab(options->out_vocab, tokens);
      std::printf("wrote %s (vocabulary %lld -> %zu) and %s\n", options->out.c_str(),
                  static_cast<long long>(tokenizer.vocab_size()), tokens.size(), options->out_vocab.c_str());
    }});
  }
}

}  // namespace hdv::train
