// Named VL model configurations (docs/design.md §4): one code path, three sizes.
//   hdvila-base   the paper's model: BERT-large (12 text + 12 cross-modal layers), hybrid
//                 encoder with two ResNet-50s and a 4-block, 1024-wide space-time Transformer;
//                 ~0.46 B parameters without the MLM head.
//   hdvila-small  all-MiniLM-L6-v2's geometry for text (6 layers, 384 wide, so its real weights
//                 import) + 2 cross-modal layers, and a video tower sized to train on 2 CPU cores;
//                 the bundled default.
//   hdvila-tiny   for unit tests: seconds on a CPU.
#pragma once

#include <string>
#include <vector>

#include "models/vl_model.h"

namespace hdv::models {

std::vector<std::string> vl_preset_names();

// Throws core::ConfigError for an unknown name, listing the known ones.
VLConfig vl_preset(const std::string& name);

}  // namespace hdv::models
