// Attribute phrases in captions (see caption_phrases.h).
#include "training/caption_phrases.h"

#include <algorithm>
#include <cctype>

#include "training/synthvid.h"

namespace hdv::train {
namespace {

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-'; }

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

std::vector<PhraseMatch> find_attribute_phrases(const std::string& caption, std::string_view attribute) {
  const auto slots = caption_phrase_slots(attribute);
  const std::string text = lower(caption);
  std::vector<PhraseMatch> all;
  for (size_t s = 0; s < slots.size(); ++s) {
    for (size_t v = 0; v < slots[s].size(); ++v) {
      for (size_t p = 0; p < slots[s][v].size(); ++p) {
        const std::string& phrase = slots[s][v][p];
        for (size_t at = text.find(phrase); at != std::string::npos; at = text.find(phrase, at + 1)) {
          const size_t end = at + phrase.size();
          if ((at > 0 && word_char(text[at - 1])) || (end < text.size() && word_char(text[end]))) continue;
          all.push_back({at, phrase.size(), s, static_cast<int>(v), static_cast<int>(p)});
        }
      }
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const PhraseMatch& a, const PhraseMatch& b) { return a.length > b.length; });
  std::vector<PhraseMatch> kept;
  for (const PhraseMatch& m : all) {
    const bool overlaps = std::any_of(kept.begin(), kept.end(), [&](const PhraseMatch& k) {
      return m.pos < k.pos + k.length && k.pos < m.pos + m.length;
    });
    if (!overlaps) kept.push_back(m);
  }
  std::sort(kept.begin(), kept.end(), [](const PhraseMatch& a, const PhraseMatch& b) { return a.pos < b.pos; });
  return kept;
}

std::string replace_phrase(const std::string& caption, const PhraseMatch& m, const std::string& phrase) {
  // The article before the phrase, if any: [article_pos, article_pos + article_len).
  size_t article_pos = std::string::npos, article_len = 0;
  if (m.pos >= 2 && caption[m.pos - 1] == ' ') {
    size_t begin = m.pos - 1;
    while (begin > 0 && word_char(caption[begin - 1])) --begin;
    const std::string word = lower(caption.substr(begin, m.pos - 1 - begin));
    if (word == "a" || word == "an") article_pos = begin, article_len = word.size();
  }
  std::string text = caption.substr(0, m.pos) + phrase + caption.substr(m.pos + m.length);
  if (m.pos == 0) text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  if (article_pos != std::string::npos) {
    std::string article = std::string("aeiou").find(phrase[0]) != std::string::npos ? "an" : "a";
    if (std::isupper(static_cast<unsigned char>(caption[article_pos]))) article[0] = 'A';
    text = text.substr(0, article_pos) + article + text.substr(article_pos + article_len);
  }
  return text;
}

}  // namespace hdv::train
