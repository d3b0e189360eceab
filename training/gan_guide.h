// Classifier guidance for a conditional GAN (issue 25): a frozen attribute classifier reads G's
// images, and its cross-entropy against the labels G was asked for joins G's loss, so G gets a
// direct gradient toward drawing the requested class, colour and texture (the projection
// discriminator alone is slow to teach a small G the shapes of 14 classes).
//
// The classifier is an "oracle"-kind checkpoint (hdvila-train oracle) trained apart from the
// oracle that evaluates the generator: a generator steered by the very network that scores it
// would learn that network's blind spots, not the attributes.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "generation/generator.h"
#include "generation/oracle.h"

namespace hdv::train {

// One label attribute the guide reads: where its one-hot block sits in c, and the guide's logit
// index of each of the attribute's values (in the generator's value order).
struct GuidedAttribute {
  std::string name;
  int64_t offset = 0;          // first column of the attribute's block in c [B, c_dim]
  std::vector<int64_t> guide_index;  // per generator value: its index among the guide head's values
};

// Matches the generator's label vocabulary to the guide's heads by attribute name and value
// name (the guide may know more values, in any order). Attributes the guide has no head for are
// returned in `unread` (they are simply not guided). Throws core::ConfigError naming `source`
// when a head lacks one of the attribute's values, or when no attribute has a head.
std::vector<GuidedAttribute> match_guide_heads(const std::vector<gen::LabelAttribute>& vocabulary,
                                               const gen::OracleConfig& guide, const std::string& source,
                                               std::vector<std::string>* unread = nullptr);

// logits: attribute -> [B, guide values]; c: [B, c_dim] one-hot blocks -> the cross-entropy of
// each guided attribute (mean over the batch), summed over the attributes: a scalar.
at::Tensor guide_cross_entropy(const std::map<std::string, at::Tensor>& logits, const at::Tensor& c,
                               const std::vector<GuidedAttribute>& guided);

}  // namespace hdv::train
