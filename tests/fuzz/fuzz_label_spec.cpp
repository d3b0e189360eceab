// Fuzz target: conditional generators' label specs (generation/labels.h, parse_label_spec), the
// "class=dress,colour=red" of a job line's "label", the studio's sample action and --label.
//
// The input is the spec. A spec that parses is drawn, turned into one-hot labels and described;
// the description must parse back to the drawn choice. Errors are core::Errors (UsageError); they
// name the attribute or value, the caller names the job line or flag.
#include <ATen/ATen.h>

#include "generation/labels.h"
#include "tests/fuzz/fuzz_target.h"

HDV_FUZZ_TARGET(label_spec) {
  using namespace hdv;
  static const std::vector<gen::LabelAttribute> vocabulary = {
      {"class", {"dress", "shirt", "ankle boot", "t-shirt"}}, {"colour", {"red", "blue", "green"}},
      {"texture", {"plain", "striped"}}};
  const std::string spec(reinterpret_cast<const char*>(data), size);
  fuzz::expect_clean(
      [&] {
        const gen::LabelChoice choice = gen::parse_label_spec(vocabulary, spec);
        const gen::LabelChoice drawn = gen::draw_labels(vocabulary, choice, 7);
        const at::Tensor one_hot = gen::one_hot_labels(vocabulary, {drawn});
        if (one_hot.sum().item<float>() != float(vocabulary.size())) fuzz::finding("one-hot labels are not one-hot", spec);
        const std::string described = gen::describe_labels(vocabulary, drawn);
        if (gen::parse_label_spec(vocabulary, described) != drawn) fuzz::finding("description does not parse back", described);
      },
      [&](const core::Error&) {});
  return 0;
}
