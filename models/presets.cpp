// VL model presets (see presets.h).
#include "models/presets.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"

namespace hdv::models {

std::vector<std::string> vl_preset_names() { return {"hdvila-base", "hdvila-small", "hdvila-tiny"}; }

VLConfig vl_preset(const std::string& name) {
  VLConfig config;
  if (name == "hdvila-base") {
    // BERT-large uncased; layers 0-11 text, 12-23 cross-modal (microsoft/XPretrain hd-vila).
    config.text = BertConfig{30522, 1024, 24, 16, 4096, 512, 2, 1e-12, 0.1, 0.1};
    config.text_layers = 12;
    config.video.backbone = ResNetConfig{};  // ResNet-50
    config.video.hidden = 1024;
    config.video.depth = 4;
    config.video.heads = 16;
    config.video.frames = 7;
    config.video.grid_height = 10;  // 640 x 1024 keyframe -> C5 20 x 32 -> max-pool -> 10 x 16
    config.video.grid_width = 16;
    config.video.lr_last_stage = 4;  // the released model holds two full ResNet-50s
    config.embed_dim = 1024;
    config.max_text_len = 50;
  } else if (name == "hdvila-small") {
    // all-MiniLM-L6-v2 (6 x 384, 12 heads, FFN 1536) + 2 cross-modal layers.
    config.text = BertConfig{30522, 384, 8, 12, 1536, 512, 2, 1e-12, 0.1, 0.1};
    config.text_layers = 6;
    config.video.backbone = ResNetConfig{{1, 1, 1, 1}, 16, 3, 4};  // C4 256, C5 512 channels
    config.video.hidden = 256;
    config.video.depth = 2;
    config.video.heads = 4;
    config.video.frames = 7;
    config.video.grid_height = 2;  // 128 x 128 keyframe -> C5 4 x 4 -> max-pool -> 2 x 2
    config.video.grid_width = 2;
    config.embed_dim = 256;
    config.max_text_len = 32;
  } else if (name == "hdvila-tiny") {
    config.text = BertConfig{30522, 32, 3, 2, 64, 64, 2, 1e-12, 0.0, 0.0};
    config.text_layers = 2;
    config.video.backbone = ResNetConfig{{1, 1, 1, 1}, 4, 3, 4};  // C4 64, C5 128 channels
    config.video.hidden = 32;
    config.video.depth = 1;
    config.video.heads = 2;
    config.video.frames = 3;
    config.video.drop_path = 0.0;
    config.video.grid_height = 1;  // 64 x 128 keyframe -> C5 2 x 4 -> max-pool -> 1 x 2
    config.video.grid_width = 2;
    config.embed_dim = 32;
    config.max_text_len = 16;
  } else {
    throw core::ConfigError(fmt::format("unknown preset \"{}\" (known: {})", name, fmt::join(vl_preset_names(), ", ")));
  }
  config.validate();
  return config;
}

}  // namespace hdv::models
