// Label vectors of conditional generators (see labels.h).
#include "generation/labels.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "core/error.h"

namespace hdv::gen {
namespace {

std::string trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  const size_t end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

std::string attribute_names(const std::vector<LabelAttribute>& vocabulary) {
  std::vector<std::string> names;
  for (const auto& attribute : vocabulary) names.push_back(attribute.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

LabelChoice parse_label_spec(const std::vector<LabelAttribute>& vocabulary, const std::string& spec) {
  if (vocabulary.empty()) {
    throw core::UsageError(fmt::format("--label \"{}\": the generator is unconditional (it has no labels)", spec));
  }
  LabelChoice choice(vocabulary.size(), -1);
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t comma = spec.find(',', start);
    const std::string part = trim(spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    start = comma == std::string::npos ? spec.size() + 1 : comma + 1;
    if (part.empty()) continue;
    const size_t equals = part.find('=');
    if (equals == std::string::npos) {
      throw core::UsageError(fmt::format("--label \"{}\": \"{}\" is not NAME=VALUE (attributes: {})", spec, part,
                                         attribute_names(vocabulary)));
    }
    const std::string name = trim(part.substr(0, equals)), value = trim(part.substr(equals + 1));
    size_t a = 0;
    while (a < vocabulary.size() && vocabulary[a].name != name) ++a;
    if (a == vocabulary.size()) {
      throw core::UsageError(fmt::format("--label \"{}\": unknown attribute \"{}\" (the generator's: {})", spec, name,
                                         attribute_names(vocabulary)));
    }
    if (choice[a] >= 0) throw core::UsageError(fmt::format("--label \"{}\": attribute \"{}\" given twice", spec, name));
    const auto& values = vocabulary[a].values;
    const auto it = std::find(values.begin(), values.end(), value);
    if (it == values.end()) {
      throw core::UsageError(fmt::format("--label \"{}\": unknown {} \"{}\" (known: {})", spec, name, value,
                                         fmt::join(values, ", ")));
    }
    choice[a] = it - values.begin();
  }
  return choice;
}

LabelChoice draw_labels(const std::vector<LabelAttribute>& vocabulary, LabelChoice choice, uint64_t seed) {
  if (choice.empty()) choice.assign(vocabulary.size(), -1);
  if (choice.size() != vocabulary.size()) {
    throw core::Error(fmt::format("labels: got {} values, expected {} ({})", choice.size(), vocabulary.size(),
                                  attribute_names(vocabulary)));
  }
  // A stream of its own: the seed's z draws are untouched. Every attribute draws, given or not, so
  // giving one attribute does not change what the others draw.
  at::Generator rng = at::make_generator<at::CPUGeneratorImpl>(seed ^ 0x6c6162656c73ULL);
  for (size_t a = 0; a < vocabulary.size(); ++a) {
    const int64_t n = static_cast<int64_t>(vocabulary[a].values.size());
    const int64_t drawn = torch::randint(n, {1}, rng, torch::kInt64).item<int64_t>();
    if (choice[a] < 0) choice[a] = drawn;
  }
  return choice;
}

at::Tensor one_hot_labels(const std::vector<LabelAttribute>& vocabulary, const std::vector<LabelChoice>& choices) {
  int64_t c_dim = 0;
  for (const auto& attribute : vocabulary) c_dim += static_cast<int64_t>(attribute.values.size());
  at::Tensor c = torch::zeros({static_cast<int64_t>(choices.size()), c_dim});
  auto data = c.accessor<float, 2>();
  for (size_t i = 0; i < choices.size(); ++i) {
    if (choices[i].size() != vocabulary.size()) {
      throw core::Error(fmt::format("labels of image {}: got {} values, expected {} ({})", i, choices[i].size(),
                                    vocabulary.size(), attribute_names(vocabulary)));
    }
    int64_t offset = 0;
    for (size_t a = 0; a < vocabulary.size(); ++a) {
      const int64_t n = static_cast<int64_t>(vocabulary[a].values.size()), k = choices[i][a];
      if (k < 0 || k >= n) {
        throw core::Error(fmt::format("labels of image {}: {} index {} is outside 0..{}", i, vocabulary[a].name, k, n - 1));
      }
      data[int64_t(i)][offset + k] = 1.0f;
      offset += n;
    }
  }
  return c;
}

at::Tensor random_labels(const std::vector<LabelAttribute>& vocabulary, int64_t count, at::Generator& rng) {
  std::vector<LabelChoice> choices(static_cast<size_t>(count), LabelChoice(vocabulary.size()));
  for (size_t a = 0; a < vocabulary.size(); ++a) {
    at::Tensor drawn = torch::randint(static_cast<int64_t>(vocabulary[a].values.size()), {count}, rng, torch::kInt64);
    for (int64_t i = 0; i < count; ++i) choices[size_t(i)][a] = drawn[i].item<int64_t>();
  }
  return one_hot_labels(vocabulary, choices);
}

std::string describe_labels(const std::vector<LabelAttribute>& vocabulary, const LabelChoice& choice) {
  std::vector<std::string> parts;
  for (size_t a = 0; a < vocabulary.size() && a < choice.size(); ++a) {
    const int64_t k = choice[a];
    const auto& values = vocabulary[a].values;
    parts.push_back(fmt::format("{}={}", vocabulary[a].name, k >= 0 && k < int64_t(values.size()) ? values[size_t(k)] : "?"));
  }
  return fmt::format("{}", fmt::join(parts, ","));
}

std::vector<LabelChoice> decode_labels(const std::vector<LabelAttribute>& vocabulary, const at::Tensor& c) {
  at::Tensor rows = c.to(torch::kCPU, torch::kFloat);
  std::vector<LabelChoice> choices(static_cast<size_t>(rows.size(0)));
  int64_t offset = 0;
  for (const auto& attribute : vocabulary) {
    const int64_t n = static_cast<int64_t>(attribute.values.size());
    at::Tensor best = rows.narrow(1, offset, n).argmax(1);
    for (int64_t i = 0; i < rows.size(0); ++i) choices[size_t(i)].push_back(best[i].item<int64_t>());
    offset += n;
  }
  return choices;
}

}  // namespace hdv::gen
