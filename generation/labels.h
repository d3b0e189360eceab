// Label vectors c of conditional generators (StyleGAN2-ADA's c_dim): one one-hot block per label
// attribute of the generator's vocabulary (GeneratorConfig::labels), concatenated in vocabulary order.
//
// A label choice is one value index per attribute; -1 means "not given" and is drawn, uniformly per
// attribute, from a generator seeded by the sample's seed, so a seed alone names a sample. Labels
// are only for sampling: edits move W / W+ / StyleSpace and never read them.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "generation/generator.h"

namespace hdv::gen {

using LabelChoice = std::vector<int64_t>;  // one value index per attribute (-1 = draw)

// "class=dress,colour=red" -> {index of dress, index of red, -1 for the others}. Spaces around the
// names are ignored. Throws core::UsageError naming the unknown attribute or value and listing the
// known ones, a repeated attribute, a part without '=', or labels given to an unconditional generator.
LabelChoice parse_label_spec(const std::vector<LabelAttribute>& vocabulary, const std::string& spec);

// The -1 entries of `choice` drawn uniformly from a CPU generator seeded by `seed` (a stream of its
// own: the z of the same seed is unchanged). An empty choice means every attribute is drawn.
LabelChoice draw_labels(const std::vector<LabelAttribute>& vocabulary, LabelChoice choice, uint64_t seed);

// choices (each fully drawn) -> float [B, c_dim] one-hot blocks. Throws core::Error on an index out
// of range or a choice of the wrong length.
at::Tensor one_hot_labels(const std::vector<LabelAttribute>& vocabulary, const std::vector<LabelChoice>& choices);

// [count, c_dim] labels, each attribute uniform, from `rng`.
at::Tensor random_labels(const std::vector<LabelAttribute>& vocabulary, int64_t count, at::Generator& rng);

// "class=dress,colour=red,texture=plain".
std::string describe_labels(const std::vector<LabelAttribute>& vocabulary, const LabelChoice& choice);

// one-hot rows [B, c_dim] -> the choice of each row (argmax per block).
std::vector<LabelChoice> decode_labels(const std::vector<LabelAttribute>& vocabulary, const at::Tensor& c);

}  // namespace hdv::gen
