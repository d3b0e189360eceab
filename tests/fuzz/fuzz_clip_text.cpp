// Fuzz target: the CLIP BPE tokenizer on text (models/clip_tokenizer.h): clean-up (ftfy/html
// subset), the word pattern and byte-level BPE, with a small merges list.
#include "models/clip_tokenizer.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

const hdv::models::ClipTokenizer& tokenizer() {
  static const hdv::models::ClipTokenizer t(
      {"a </w>", "p h", "ph o", "pho t", "phot o</w>", "r e", "re d</w>", "s h", "sh i", "shi r", "shir t</w>",
       "o f</w>", "t h", "th e</w>", "c a", "ca f", "caf Ã", "Ã ©</w>", "Ġ Ġ"},
      "fuzz merges");
  return t;
}

}  // namespace

HDV_FUZZ_TARGET(clip_text) {
  using namespace hdv;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean(
      [&] {
        const std::vector<int64_t> ids = tokenizer().encode_for_model(text, 16);
        if (ids.size() != 16) fuzz::finding("encode_for_model length is not context_length", text);
        for (int64_t id : ids) tokenizer().id_to_token(id);
      },
      [&](const core::Error& e) { fuzz::check_names_input(e, "text"); });
  return 0;
}
