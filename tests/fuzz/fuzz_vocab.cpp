// Fuzz target: the BERT vocab.txt reader (models/tokenizer.h, Tokenizer(path)).
//
// The input is a whole vocab.txt. A vocabulary that loads must tokenize a fixed caption into ids
// it holds.
#include "models/tokenizer.h"
#include "tests/fuzz/fuzz_target.h"

HDV_FUZZ_TARGET(vocab) {
  using namespace hdv;
  const std::filesystem::path path =
      fuzz::write_input("vocab.txt", std::string_view(reinterpret_cast<const char*>(data), size));
  fuzz::expect_clean(
      [&] {
        const models::Tokenizer tokenizer(path);
        const models::Encoding encoding = tokenizer.encode_for_model("Hello, a RED shirt! 你好 unaffable café");
        for (int64_t id : encoding.input_ids) tokenizer.id_to_token(id);
      },
      [&](const core::Error& e) { fuzz::check_names_input(e, path.string()); });
  return 0;
}
