// hdvila-train import --clip (see cmd_import_clip.h).
#include "training/cmd_import_clip.h"

#include <torch/torch.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstring>
#include <optional>

#include "core/assets.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "models/bert_import.h"
#include "models/clip_checkpoint.h"
#include "models/clip_import.h"
#include "models/clip_tokenizer.h"
#include "models/module_state.h"

namespace hdv::train {
namespace {

namespace fs = std::filesystem;

bool is_pickle(const fs::path& path) {
  const std::string ext = path.extension().string();
  return ext == ".bin" || ext == ".pth" || ext == ".pt";
}

// A file beside the output removed when the import ends.
class ScratchFile {
 public:
  ScratchFile(const fs::path& out, const std::string& what)
      : path_(out.parent_path() / fmt::format(".{}.{}-{}.safetensors", out.filename().string(), what, ::getpid())) {}
  ~ScratchFile() {
    std::error_code ignored;  // a failed cleanup must not hide the import's own outcome
    fs::remove(path_, ignored);
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

fs::path weights_file(const fs::path& given) {
  std::error_code ec;
  if (!fs::exists(given, ec)) throw core::UsageError(fmt::format("--clip: {}: no such file or folder", given.string()));
  if (!fs::is_directory(given, ec)) return given;
  for (const char* name : {"open_clip_model.safetensors", "model.safetensors", "open_clip_pytorch_model.bin",
                           "pytorch_model.bin"}) {
    if (fs::is_regular_file(given / name, ec)) return given / name;
  }
  throw core::UsageError(fmt::format("--clip: {}: a folder without open_clip_model.safetensors, model.safetensors, "
                                     "open_clip_pytorch_model.bin or pytorch_model.bin",
                                     given.string()));
}

// The merges, and where they came from.
std::pair<models::ClipTokenizer, std::string> read_merges(const ClipImportRequest& request, const fs::path& weights) {
  fs::path source = request.bpe;
  std::error_code ec;
  if (source.empty()) {
    for (const char* name : {"merges.txt", "bpe_simple_vocab_16e6.txt", "bpe_simple_vocab_16e6.txt.gz"}) {
      if (fs::is_regular_file(weights.parent_path() / name, ec)) {
        source = weights.parent_path() / name;
        break;
      }
    }
  } else if (!fs::is_regular_file(source, ec)) {
    throw core::UsageError(fmt::format("--clip-bpe: {}: no such file", source.string()));
  }
  if (!source.empty() && source.extension() != ".gz") {
    return {models::ClipTokenizer::from_file(source), source.string()};
  }
  // A .gz file, or none: the venv's Python reads it (or finds open_clip's own).
  ScratchFile converted(request.out, "bpe");
  models::convert_bin_with_python(source.empty() ? weights : source, converted.path(), request.python,
                                  core::script_path("clip_bpe_merges.py"));
  const core::SafetensorsFile file = core::SafetensorsFile::open(converted.path());
  const at::Tensor bytes = file.tensor(models::kClipMergesTensor).contiguous();
  const std::string text(static_cast<const char*>(bytes.data_ptr()), static_cast<size_t>(bytes.numel()));
  const std::string from = source.empty() ? fmt::format("the open_clip_torch package of {}", request.python) : source.string();
  return {models::ClipTokenizer::from_text(text, from), from};
}

}  // namespace

std::string import_clip(const ClipImportRequest& request) {
  torch::NoGradGuard no_grad;
  const fs::path given = weights_file(request.weights);
  std::optional<ScratchFile> converted;
  fs::path weights = given;
  if (is_pickle(given)) {
    converted.emplace(request.out, "weights");
    models::convert_bin_with_python(given, converted->path(), request.python);
    weights = converted->path();
  }
  models::ClipImport done = models::import_clip_weights(weights, request.quick_gelu);
  auto [tokenizer, merges_from] = read_merges(request, given);
  const models::ClipConfig& config = done.model->config();
  if (tokenizer.vocab_size() != config.text.vocab_size) {
    throw core::FormatError(fmt::format("{}: its merges give a {}-token vocabulary, but {} has {} token embeddings "
                                        "(text.vocab_size); pass the merges these weights were trained with (--clip-bpe)",
                                        merges_from, tokenizer.vocab_size(), given.string(), config.text.vocab_size));
  }
  std::string report = fmt::format("{} ({} layout): {}, {} tensors{}\n", given.string(), done.layout, done.arch,
                                   done.tensors, done.skipped > 0 ? fmt::format(" ({} buffers skipped)", done.skipped) : "");
  report += fmt::format("  image {} px, patch {}, width {}, {} layers, {} heads; text width {}, {} layers, {} heads, "
                        "context {}; embed_dim {}; {}\n",
                        config.vision.image_size, config.vision.patch_size, config.vision.width, config.vision.layers,
                        config.vision.heads, config.text.width, config.text.layers, config.text.heads,
                        config.text.context_length, config.embed_dim, config.quick_gelu ? "QuickGELU" : "GELU");
  report += fmt::format("  BPE merges: {} ({} merges, {} tokens), stored in the checkpoint\n", merges_from,
                        tokenizer.merges().size(), tokenizer.vocab_size());
  const std::string preset = fmt::format("{}-{}", done.layout == "OpenCLIP" ? "openclip" : "hf", done.arch.substr(0, done.arch.find(' ')));
  models::save_clip_model(request.out, *done.model, tokenizer, preset);
  int64_t parameters = 0;
  for (const auto& parameter : done.model->parameters()) parameters += parameter.numel();
  report += fmt::format("wrote {}: clip checkpoint, {:.3f} M parameters\n", request.out.string(), double(parameters) / 1e6);
  return report;
}

}  // namespace hdv::train
