#include "training/gan_guide.h"

#include <torch/torch.h>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"

namespace hdv::train {

std::vector<GuidedAttribute> match_guide_heads(const std::vector<gen::LabelAttribute>& vocabulary,
                                               const gen::OracleConfig& guide, const std::string& source,
                                               std::vector<std::string>* unread) {
  std::vector<GuidedAttribute> guided;
  int64_t offset = 0;
  for (const gen::LabelAttribute& attribute : vocabulary) {
    const int64_t size = static_cast<int64_t>(attribute.values.size());
    auto head = std::find_if(guide.attributes.begin(), guide.attributes.end(),
                             [&](const gen::OracleAttribute& h) { return h.name == attribute.name; });
    if (head == guide.attributes.end()) {
      if (unread != nullptr) unread->push_back(attribute.name);
      offset += size;
      continue;
    }
    GuidedAttribute entry{attribute.name, offset, {}};
    std::vector<std::string> missing;
    for (const std::string& value : attribute.values) {
      auto it = std::find(head->values.begin(), head->values.end(), value);
      if (it == head->values.end()) {
        missing.push_back(value);
      } else {
        entry.guide_index.push_back(static_cast<int64_t>(it - head->values.begin()));
      }
    }
    if (!missing.empty()) {
      throw core::ConfigError(fmt::format("guide_classifier {}: its \"{}\" head does not read {} (it reads {})", source,
                                          attribute.name, fmt::join(missing, ", "), fmt::join(head->values, ", ")));
    }
    guided.push_back(std::move(entry));
    offset += size;
  }
  if (guided.empty()) {
    throw core::ConfigError(fmt::format("guide_classifier {}: it reads none of the generator's label attributes ({}); "
                                        "its heads: {}",
                                        source, gen::label_summary(vocabulary), fmt::join(guide.attribute_names(), ", ")));
  }
  return guided;
}

at::Tensor guide_cross_entropy(const std::map<std::string, at::Tensor>& logits, const at::Tensor& c,
                               const std::vector<GuidedAttribute>& guided) {
  at::Tensor total = torch::zeros({}, c.options().dtype(torch::kFloat32));
  for (const GuidedAttribute& attribute : guided) {
    const at::Tensor& head = logits.at(attribute.name);
    const int64_t values = static_cast<int64_t>(attribute.guide_index.size());
    const at::Tensor requested = c.narrow(1, attribute.offset, values).argmax(1);  // [B], generator order
    const at::Tensor index = torch::tensor(attribute.guide_index, torch::kInt64).to(head.device());
    const at::Tensor target = index.index_select(0, requested.to(head.device()));
    total = total + torch::nn::functional::cross_entropy(head.to(torch::kFloat32), target);
  }
  return total;
}

}  // namespace hdv::train
