// Shared benchmark inputs (see bench_inputs.h).
#include "bench/bench_inputs.h"

#include <torch/torch.h>

#include <algorithm>
#include <string>

namespace hdv::bench {

ModelInputs make_inputs(const models::VLConfig& config, int64_t batch) {
  const int64_t length = config.max_text_len, real = std::min(kRealTokens, length);
  ModelInputs in;
  in.input_ids = torch::zeros({batch, length}, torch::kLong);  // [PAD] = 0
  in.input_ids.narrow(1, 0, real).copy_(torch::randint(1000, config.text.vocab_size, {batch, real}, torch::kLong));
  in.input_ids.select(1, 0).fill_(101);         // [CLS]
  in.input_ids.select(1, real - 1).fill_(102);  // [SEP]
  in.attention_mask = torch::zeros({batch, length}, torch::kLong);
  in.attention_mask.narrow(1, 0, real).fill_(1);
  const int64_t height = 64 * config.video.grid_height, width = 64 * config.video.grid_width;
  in.keyframes = torch::rand({batch, kSegments, 3, height, width}) * 2 - 1;
  in.neighbours = torch::rand({batch, kSegments, config.video.frames - 1, 3, height / 4, width / 4}) * 2 - 1;
  return in;
}

void perturb(models::VLModelImpl& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.parameters()) p.add_(torch::randn_like(p), 0.02);
  for (const auto& item : model.named_buffers()) {
    at::Tensor b = item.value();
    if (item.key().find("running_mean") != std::string::npos) b.add_(torch::randn_like(b), 0.1);
    if (item.key().find("running_var") != std::string::npos) b.mul_(torch::rand_like(b) + 0.5);
  }
}

}  // namespace hdv::bench
