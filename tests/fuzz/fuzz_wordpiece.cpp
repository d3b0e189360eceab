// Fuzz target: the WordPiece tokenizer on UTF-8 text (models/tokenizer.h).
//
// The input is a caption. A small vocabulary tokenizes it (tokenize, encode_for_model) cased and
// uncased; invalid UTF-8 must be a FormatError naming the text. Valid UTF-8 must survive
// decode_utf8 -> encode_utf8 unchanged.
#include "models/tokenizer.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

const hdv::models::Tokenizer& tokenizer(bool lower_case) {
  static const std::vector<std::string> tokens = {
      "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "red", "shirt", "un", "##aff", "##able", "!", ",", ".",
      "the", "dress", "##s", "你", "好", "é", "##é", "hello", "world", "##ing", "[", "]"};
  static const hdv::models::Tokenizer uncased(tokens, {true, 16}, "fuzz vocabulary");
  static const hdv::models::Tokenizer cased(tokens, {false, 16}, "fuzz vocabulary");
  return lower_case ? uncased : cased;
}

}  // namespace

HDV_FUZZ_TARGET(wordpiece) {
  using namespace hdv;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool lower_case : {true, false}) {
    fuzz::expect_clean(
        [&] {
          const models::Tokenizer& t = tokenizer(lower_case);
          const std::vector<int64_t> ids = t.encode(text);
          for (int64_t id : ids) t.id_to_token(id);
          const models::Encoding encoding = t.encode_for_model(text);
          if (encoding.input_ids.size() != 16 || encoding.attention_mask.size() != 16) {
            fuzz::finding("encode_for_model length is not max_length", text);
          }
        },
        [&](const core::Error& e) { fuzz::check_names_input(e, "text"); });
  }
  fuzz::expect_clean(
      [&] {
        const std::u32string code_points = models::decode_utf8(text, "caption");
        if (models::encode_utf8(code_points) != text) fuzz::finding("UTF-8 does not round-trip", text);
      },
      [&](const core::Error& e) { fuzz::check_names_input(e, "caption"); });
  return 0;
}
