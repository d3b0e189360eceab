// "clip" checkpoints (see clip_checkpoint.h).
#include "models/clip_checkpoint.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <string_view>
#include <vector>

#include "core/checkpoint.h"
#include "core/config.h"
#include "core/error.h"
#include "models/module_state.h"

namespace hdv::models {

void save_clip_model(const std::filesystem::path& path, ClipModelImpl& model, const ClipTokenizer& tokenizer,
                     const std::string& preset) {
  if (tokenizer.vocab_size() != model.config().text.vocab_size) {
    throw core::Error(fmt::format("{}: the tokenizer has {} tokens but the text tower's vocab_size is {}",
                                  path.string(), tokenizer.vocab_size(), model.config().text.vocab_size));
  }
  core::NamedTensors tensors = module_tensors(model);
  const std::string merges = tokenizer.merges_text();
  at::Tensor bytes = torch::empty({static_cast<int64_t>(merges.size())}, torch::kUInt8);
  std::memcpy(bytes.data_ptr(), merges.data(), merges.size());
  tensors.emplace_back(kClipMergesTensor, bytes);
  core::CheckpointInfo info;
  info.kind = kClipKind;
  info.preset = preset;
  info.config = core::config_to_json(model.config());
  core::save_checkpoint(path, tensors, info);
}

LoadedClip load_clip_model(const std::filesystem::path& path) {
  const core::Checkpoint checkpoint = core::Checkpoint::load(path, kClipKind);
  ClipModel model(checkpoint_config<ClipConfig>(checkpoint, path));
  core::ExpectedShapes expected = expected_shapes(*model);
  const bool has_merges = checkpoint.file().contains(kClipMergesTensor);
  expected.emplace_back(kClipMergesTensor, has_merges ? checkpoint.file().entry(kClipMergesTensor).shape
                                                      : std::vector<int64_t>{0});
  checkpoint.check_tensors(expected);  // names every missing, unexpected or misshapen tensor
  const at::Tensor bytes = checkpoint.tensor(kClipMergesTensor).contiguous();
  if (bytes.scalar_type() != torch::kUInt8) {
    throw core::FormatError(fmt::format("{}: \"{}\" has dtype {}, expected U8 (the merges file's bytes)",
                                        path.string(), kClipMergesTensor, c10::toString(bytes.scalar_type())));
  }
  const std::string_view text(static_cast<const char*>(bytes.data_ptr()), static_cast<size_t>(bytes.numel()));
  ClipTokenizer tokenizer = ClipTokenizer::from_text(text, fmt::format("{} \"{}\"", path.string(), kClipMergesTensor));
  if (tokenizer.vocab_size() != model->config().text.vocab_size) {
    throw core::FormatError(fmt::format("{}: its merges give {} tokens but text.vocab_size is {}", path.string(),
                                        tokenizer.vocab_size(), model->config().text.vocab_size));
  }
  std::vector<std::string> problems;  // dtype kinds (float vs integer) that cannot convert
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters(/*recurse=*/true)) copy_checkpoint_tensor(checkpoint, item.key(), item.value(), problems);
  for (auto& item : model->named_buffers(/*recurse=*/true)) copy_checkpoint_tensor(checkpoint, item.key(), item.value(), problems);
  if (!problems.empty()) {
    throw core::FormatError(fmt::format("{}: cannot load {}", path.string(), fmt::join(problems, "; ")));
  }
  model->eval();
  return {model, std::move(tokenizer)};
}

}  // namespace hdv::models
