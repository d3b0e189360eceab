// WordPiece vocabulary learning (see wordpiece_trainer.h).
//
// Reference: HuggingFace course, chapter 6 "WordPiece tokenization" (training by
// count(ab) / (count(a) * count(b))); Schuster & Nakajima 2012. Counts are kept incrementally:
// a merge only rewrites the words that contain its pair.
#include "models/wordpiece_trainer.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include "core/error.h"
#include "models/tokenizer.h"

namespace hdv::models {
namespace {

using PairKey = uint64_t;

PairKey pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
int32_t pair_first(PairKey key) { return static_cast<int32_t>(key >> 32); }
int32_t pair_second(PairKey key) { return static_cast<int32_t>(key & 0xFFFFFFFFu); }

// A distinct corpus word, as its current pieces (ids into Trainer::pieces_).
struct Word {
  std::vector<int32_t> pieces;
  int64_t count = 0;
};

class Trainer {
 public:
  Trainer(const std::map<std::u32string, int64_t>& word_counts, int min_frequency)
      : min_frequency_(min_frequency) {
    std::set<char32_t> alphabet;
    for (const auto& [word, count] : word_counts) alphabet.insert(word.begin(), word.end());
    std::vector<std::string> base;
    for (char32_t c : alphabet) {
      const std::string s = encode_utf8(std::u32string(1, c));
      base.push_back(s);
      base.push_back("##" + s);
    }
    std::sort(base.begin(), base.end());  // UTF-8 byte order is code point order
    for (const std::string& token : base) piece_id(token);
    alphabet_size_ = pieces_.size();

    for (const auto& [word, count] : word_counts) {
      Word w;
      w.count = count;
      for (size_t i = 0; i < word.size(); ++i) {
        const std::string s = encode_utf8(std::u32string(1, word[i]));
        w.pieces.push_back(piece_id(i == 0 ? s : "##" + s));
      }
      words_.push_back(std::move(w));
    }
    word_stamp_.assign(words_.size(), 0);
    piece_counts_.assign(pieces_.size(), 0);
    for (size_t w = 0; w < words_.size(); ++w) add_counts(static_cast<int32_t>(w), -1);
  }

  // The characters in both forms, sorted.
  std::vector<std::string> alphabet() const {
    return {pieces_.begin(), pieces_.begin() + static_cast<std::ptrdiff_t>(alphabet_size_)};
  }

  // Merges the best pair; returns its new token and whether that string is new, or nullopt
  // when no pair occurs min_frequency times.
  std::optional<std::pair<std::string, bool>> merge_best() {
    PairKey best = 0;
    int64_t best_count = 0;
    for (const auto& [key, count] : pair_counts_) {
      if (count < min_frequency_) continue;
      if (best_count == 0 || better(key, count, best, best_count)) {
        best = key;
        best_count = count;
      }
    }
    if (best_count == 0) return std::nullopt;

    const int32_t a = pair_first(best), b = pair_second(best);
    const std::string& second = pieces_[static_cast<size_t>(b)];
    const std::string merged =
        pieces_[static_cast<size_t>(a)] + (second.rfind("##", 0) == 0 ? second.substr(2) : second);
    const bool is_new = ids_.find(merged) == ids_.end();
    const int32_t merged_id = piece_id(merged);
    piece_counts_.resize(pieces_.size(), 0);

    std::vector<int32_t> targets = std::move(pair_words_[best]);
    pair_words_.erase(best);
    ++stamp_;
    for (int32_t w : targets) {
      if (word_stamp_[static_cast<size_t>(w)] == stamp_) continue;  // listed twice
      word_stamp_[static_cast<size_t>(w)] = stamp_;
      apply(w, a, b, merged_id);
    }
    pair_counts_.erase(best);
    return std::make_pair(merged, is_new);
  }

 private:
  int32_t piece_id(const std::string& token) {
    auto [it, inserted] = ids_.try_emplace(token, static_cast<int32_t>(pieces_.size()));
    if (inserted) pieces_.push_back(token);
    return it->second;
  }

  // Whether pair `key` (count) scores above `best` (best_count); equal scores go to the
  // lexicographically smaller (first, second) strings. Scores compare exactly by
  // cross-multiplying: count * best_a * best_b vs best_count * a * b.
  bool better(PairKey key, int64_t count, PairKey best, int64_t best_count) const {
    __extension__ using Wide = unsigned __int128;
    const auto freq = [&](int32_t id) {
      return static_cast<Wide>(piece_counts_[static_cast<size_t>(id)]);
    };
    const Wide lhs = static_cast<Wide>(count) * freq(pair_first(best)) * freq(pair_second(best));
    const Wide rhs = static_cast<Wide>(best_count) * freq(pair_first(key)) * freq(pair_second(key));
    if (lhs != rhs) return lhs > rhs;
    const std::string& a = pieces_[static_cast<size_t>(pair_first(key))];
    const std::string& best_a = pieces_[static_cast<size_t>(pair_first(best))];
    if (a != best_a) return a < best_a;
    return pieces_[static_cast<size_t>(pair_second(key))] <
           pieces_[static_cast<size_t>(pair_second(best))];
  }

  // Adds (sign +1) or removes (-1) word w's pieces and pairs from the counts; when adding,
  // also lists w under pairs that contain `listed_piece` (-1: every pair).
  void add_counts(int32_t w, int32_t listed_piece, int sign = +1) {
    const Word& word = words_[static_cast<size_t>(w)];
    const int64_t delta = sign * word.count;
    for (int32_t piece : word.pieces) piece_counts_[static_cast<size_t>(piece)] += delta;
    for (size_t i = 0; i + 1 < word.pieces.size(); ++i) {
      const PairKey key = pair_key(word.pieces[i], word.pieces[i + 1]);
      auto it = pair_counts_.try_emplace(key, 0).first;
      it->second += delta;
      if (it->second == 0) pair_counts_.erase(it);
      if (sign > 0 && (listed_piece < 0 || word.pieces[i] == listed_piece ||
                       word.pieces[i + 1] == listed_piece)) {
        std::vector<int32_t>& listed = pair_words_[key];
        if (listed.empty() || listed.back() != w) listed.push_back(w);
      }
    }
  }

  void apply(int32_t w, int32_t a, int32_t b, int32_t merged_id) {
    add_counts(w, -1, -1);
    std::vector<int32_t>& pieces = words_[static_cast<size_t>(w)].pieces;
    std::vector<int32_t> out;
    out.reserve(pieces.size());
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (i + 1 < pieces.size() && pieces[i] == a && pieces[i + 1] == b) {
        out.push_back(merged_id);
        ++i;
      } else {
        out.push_back(pieces[i]);
      }
    }
    pieces = std::move(out);
    add_counts(w, merged_id);
  }

  int min_frequency_;
  size_t alphabet_size_ = 0;
  std::vector<std::string> pieces_;               // piece id -> token
  std::unordered_map<std::string, int32_t> ids_;  // token -> piece id
  std::vector<Word> words_;
  std::vector<int64_t> piece_counts_;                 // piece id -> occurrences in the corpus
  std::unordered_map<PairKey, int64_t> pair_counts_;  // adjacent pair -> occurrences
  std::unordered_map<PairKey, std::vector<int32_t>> pair_words_;  // pair -> words (may be stale)
  std::vector<int64_t> word_stamp_;  // word -> last merge that rewrote it
  int64_t stamp_ = 0;
};

}  // namespace

void WordPieceTrainerConfig::validate() const {
  if (min_frequency < 1) {
    throw core::ConfigError("wordpiece trainer config: min_frequency=" +
                            std::to_string(min_frequency) + " must be >= 1");
  }
}

std::vector<std::string> learn_wordpiece_vocab(const std::vector<std::string>& lines,
                                               int vocab_size, const WordPieceTrainerConfig& config,
                                               const WordPieceProgress& progress) {
  config.validate();
  const auto started = std::chrono::steady_clock::now();
  const BasicTokenizer basic(config.lower_case);
  std::map<std::u32string, int64_t> word_counts;  // ordered: deterministic word ids
  for (size_t i = 0; i < lines.size(); ++i) {
    for (std::u32string& word :
         basic.split_words(lines[i], "corpus line " + std::to_string(i + 1))) {
      if (word.size() > static_cast<size_t>(Tokenizer::kMaxInputCharsPerWord)) continue;
      ++word_counts[std::move(word)];
    }
  }

  Trainer trainer(word_counts, config.min_frequency);
  std::vector<std::string> vocab(kSpecialTokens.begin(), kSpecialTokens.end());
  const std::vector<std::string> alphabet = trainer.alphabet();
  vocab.insert(vocab.end(), alphabet.begin(), alphabet.end());
  if (vocab_size < static_cast<int64_t>(vocab.size())) {
    throw core::ConfigError("wordpiece trainer: vocab_size=" + std::to_string(vocab_size) +
                            " is below the " + std::to_string(vocab.size()) + " base tokens (" +
                            std::to_string(kSpecialTokens.size()) + " special tokens + " +
                            std::to_string(alphabet.size() / 2) +
                            " distinct corpus characters in \"x\" and \"##x\" form); ask for at "
                            "least " + std::to_string(vocab.size()));
  }

  const int64_t base_size = static_cast<int64_t>(vocab.size());
  const int64_t total = vocab_size - base_size;
  while (static_cast<int64_t>(vocab.size()) < vocab_size) {
    const auto merged = trainer.merge_best();
    if (!merged) break;
    if (merged->second) vocab.push_back(merged->first);
    if (progress) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      progress(static_cast<int64_t>(vocab.size()) - base_size, total, seconds);
    }
  }
  return vocab;
}

void write_vocab(const std::filesystem::path& path, const std::vector<std::string>& tokens) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].empty() || tokens[i].find_first_of("\r\n") != std::string::npos) {
      throw core::FormatError("vocabulary " + path.string() + ": token " + std::to_string(i) +
                              " is empty or holds a line break; vocab.txt has one token a line");
    }
  }
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw core::IoError("vocabulary " + tmp.string() +
                          ": cannot open for writing (missing directory or no permission)");
    }
    for (const std::string& token : tokens) out << token << '\n';
    out.flush();
    if (!out) throw core::IoError("vocabulary " + tmp.string() + ": write failed (disk full?)");
  }
  std::error_code error;
  std::filesystem::rename(tmp, path, error);
  if (error) {
    throw core::IoError("vocabulary " + path.string() + ": cannot rename " + tmp.string() +
                        " into place: " + error.message());
  }
}

}  // namespace hdv::models
