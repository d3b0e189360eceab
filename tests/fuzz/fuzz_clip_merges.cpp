// Fuzz target: the CLIP BPE merges reader (models/clip_tokenizer.h, ClipTokenizer::from_file).
//
// The input is a whole merges file. A tokenizer that loads must encode a fixed caption into ids
// inside its vocabulary.
#include "models/clip_tokenizer.h"
#include "tests/fuzz/fuzz_target.h"

HDV_FUZZ_TARGET(clip_merges) {
  using namespace hdv;
  const std::filesystem::path path =
      fuzz::write_input("merges.txt", std::string_view(reinterpret_cast<const char*>(data), size));
  fuzz::expect_clean(
      [&] {
        const models::ClipTokenizer tokenizer = models::ClipTokenizer::from_file(path);
        for (int64_t id : tokenizer.encode_for_model("a photo of a red shirt, café 你好!", 16)) {
          tokenizer.id_to_token(id);
        }
      },
      [&](const core::Error& e) { fuzz::check_names_input(e, path.string()); });
  return 0;
}
