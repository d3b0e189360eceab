// Text subcommands of hdvila-train:
//   tokenize --vocab FILE --text "..."            token ids as the model sees them, one line
//   vocab --corpus FILE --size N --out vocab.txt  learn a WordPiece vocabulary from a corpus
#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "models/tokenizer.h"
#include "models/wordpiece_trainer.h"
#include "training/command.h"

namespace hdv::train {

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
}

}  // namespace hdv::train
