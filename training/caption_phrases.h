// Finding and replacing SynthVid attribute phrases in English captions (the paraphrase tables of
// synthvid.h: caption_phrase_slots), shared by the attribute probes (attribute_probe.h) and the
// hard-negative captions (hard_negatives.h). Phrases match whole words, case-insensitively, where
// a word is letters, digits and '-' ("shirt" inside "t-shirt" is no match); where two matches
// overlap, the longer wins.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace hdv::train {

struct PhraseMatch {
  size_t pos = 0, length = 0;  // bytes of the caption the phrase covers
  size_t slot = 0;             // slot of caption_phrase_slots(attribute) (texture: 0 before the noun, 1 after)
  int value = 0;               // the attribute value the phrase stands for
  int paraphrase = 0;          // index of the phrase among that value's phrases in the slot
};

// Every phrase of `attribute` in `caption`, in text order. Throws core::Error for an unknown attribute.
std::vector<PhraseMatch> find_attribute_phrases(const std::string& caption, std::string_view attribute);

// `caption` with the matched phrase replaced by `phrase`; an "a"/"an" just before it follows the
// new phrase (keeping its capital), and a phrase at the start of the caption is capitalised.
std::string replace_phrase(const std::string& caption, const PhraseMatch& match, const std::string& phrase);

}  // namespace hdv::train
