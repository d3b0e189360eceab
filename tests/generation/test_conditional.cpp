// Conditional StyleGAN2 (StyleGAN2-ADA's c): label vectors (generation/labels.h), the mapping
// network's label embedding, the projection discriminator, checkpoints that carry the label
// vocabulary, and edits that never read the labels' words.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "generation/discriminator.h"
#include "generation/generator.h"
#include "generation/generator_checkpoint.h"
#include "generation/labels.h"
#include "generation/pipeline.h"
#include "tests/core/test_support.h"
#include "tests/generation/tiny_models.h"

namespace hdv::gen {
namespace {

std::vector<LabelAttribute> vocabulary() { return {{"class", {"shirt", "bag"}}, {"colour", {"red", "blue", "green"}}}; }

GeneratorConfig conditional_tiny() {
  GeneratorConfig config = generator_preset("stylegan2-tiny");
  config.labels = vocabulary();
  return config;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const core::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Labels, ParsesASpecIntoValueIndices) {
  EXPECT_EQ(parse_label_spec(vocabulary(), "colour=green"), (LabelChoice{-1, 2}));
  EXPECT_EQ(parse_label_spec(vocabulary(), " class = bag , colour=red"), (LabelChoice{1, 0}));
  EXPECT_EQ(parse_label_spec(vocabulary(), ""), (LabelChoice{-1, -1}));
  EXPECT_EQ(error_of([] { parse_label_spec(vocabulary(), "colour=teal"); }),
            "--label \"colour=teal\": unknown colour \"teal\" (known: red, blue, green)");
  EXPECT_EQ(error_of([] { parse_label_spec(vocabulary(), "size=large"); }),
            "--label \"size=large\": unknown attribute \"size\" (the generator's: class, colour)");
  EXPECT_EQ(error_of([] { parse_label_spec(vocabulary(), "colour=red,colour=blue"); }),
            "--label \"colour=red,colour=blue\": attribute \"colour\" given twice");
  EXPECT_EQ(error_of([] { parse_label_spec(vocabulary(), "red"); }),
            "--label \"red\": \"red\" is not NAME=VALUE (attributes: class, colour)");
  EXPECT_EQ(error_of([] { parse_label_spec({}, "colour=red"); }),
            "--label \"colour=red\": the generator is unconditional (it has no labels)");
  EXPECT_THROW(parse_label_spec(vocabulary(), "colour=teal"), core::UsageError);
}

TEST(Labels, DrawsTheMissingOnesFromTheSeedAndKeepsTheGivenOnes) {
  const LabelChoice drawn = draw_labels(vocabulary(), {}, 42);
  ASSERT_EQ(drawn.size(), 2u);
  EXPECT_EQ(draw_labels(vocabulary(), {}, 42), drawn);  // the seed names the labels
  // Giving one attribute leaves what the other draws unchanged.
  EXPECT_EQ(draw_labels(vocabulary(), {1, -1}, 42), (LabelChoice{1, drawn[1]}));
  EXPECT_EQ(draw_labels(vocabulary(), {-1, 2}, 42), (LabelChoice{drawn[0], 2}));
  // Over many seeds every value comes up.
  std::vector<int> seen(3, 0);
  for (uint64_t seed = 0; seed < 60; ++seed) ++seen[size_t(draw_labels(vocabulary(), {}, seed)[1])];
  for (int count : seen) EXPECT_GT(count, 5);
}

TEST(Labels, OneHotBlocksInVocabularyOrder) {
  at::Tensor c = one_hot_labels(vocabulary(), {{1, 0}, {0, 2}});
  at::Tensor expected = torch::tensor({{0, 1, 1, 0, 0}, {1, 0, 0, 0, 1}}, torch::kFloat);
  EXPECT_TRUE(torch::equal(c, expected));
  EXPECT_EQ(decode_labels(vocabulary(), c), (std::vector<LabelChoice>{{1, 0}, {0, 2}}));
  EXPECT_EQ(describe_labels(vocabulary(), {1, 0}), "class=bag,colour=red");
  EXPECT_EQ(error_of([] { one_hot_labels(vocabulary(), {{0, 3}}); }), "labels of image 0: colour index 3 is outside 0..2");
  at::Generator rng = at::make_generator<at::CPUGeneratorImpl>(3);
  at::Tensor random = random_labels(vocabulary(), 10, rng);
  ASSERT_EQ(random.sizes(), (std::vector<int64_t>{10, 5}));
  EXPECT_TRUE(torch::equal(random.narrow(1, 0, 2).sum(1), torch::ones({10})));
  EXPECT_TRUE(torch::equal(random.narrow(1, 2, 3).sum(1), torch::ones({10})));
}

TEST(ConditionalGenerator, EmbedsTheLabelsBesideZ) {
  torch::manual_seed(0);
  const GeneratorConfig config = conditional_tiny();
  EXPECT_EQ(config.c_dim(), 5);
  Generator g(config);
  auto params = g->named_parameters();
  // NVlabs names and shapes: embed c_dim -> w_dim, fc0 takes z_dim + w_dim.
  ASSERT_TRUE(params.contains("mapping.embed.weight"));
  EXPECT_EQ(params["mapping.embed.weight"].sizes(), (std::vector<int64_t>{config.w_dim, 5}));
  EXPECT_EQ(params["mapping.fc0.weight"].sizes(), (std::vector<int64_t>{config.w_dim, config.z_dim + config.w_dim}));
  at::Tensor z = torch::randn({2, config.z_dim});
  at::Tensor red = one_hot_labels(config.labels, {{0, 0}, {0, 0}}), blue = one_hot_labels(config.labels, {{0, 1}, {0, 1}});
  at::Tensor w_red = g->map(z, red), w_blue = g->map(z, blue);
  EXPECT_TRUE(torch::equal(w_red, g->map(z, red)));
  EXPECT_GT((w_red - w_blue).abs().max().item<double>(), 1e-3);
  EXPECT_EQ(error_of([&] { g->map(z); }),
            "conditional generator: labels c [B, 5] are needed to map z (labels: class=shirt|bag; colour=red|blue|green)");
  EXPECT_NE(error_of([&] { g->map(z, torch::zeros({2, 4})); }).find("c (labels): got shape [2, 4], expected [2, 5]"),
            std::string::npos);
  Generator plain(generator_preset("stylegan2-tiny"));
  EXPECT_FALSE(plain->named_parameters().contains("mapping.embed.weight"));
  EXPECT_NE(error_of([&] { plain->map(z, red); }).find("unconditional generator: got labels c"), std::string::npos);
}

TEST(ConditionalGenerator, CheckpointKeepsTheVocabulary) {
  test::TempDir dir;
  torch::manual_seed(1);
  Generator g(conditional_tiny());
  save_generator(dir / "g.safetensors", *g, "stylegan2-tiny");
  Generator loaded = load_generator(dir / "g.safetensors");
  ASSERT_EQ(loaded->config().labels.size(), 2u);
  EXPECT_EQ(loaded->config().labels[1].name, "colour");
  EXPECT_EQ(loaded->config().labels[1].values, (std::vector<std::string>{"red", "blue", "green"}));
  at::Tensor z = torch::randn({1, g->config().z_dim});
  at::Tensor c = one_hot_labels(g->config().labels, {{1, 2}});
  EXPECT_TRUE(torch::equal(loaded->forward(z, 1.0, NoiseMode::Const, c), g->forward(z, 1.0, NoiseMode::Const, c)));
  GeneratorConfig bad = conditional_tiny();
  bad.labels[1].values = {"red"};
  EXPECT_EQ(error_of([&] { bad.validate(); }),
            "generator config: labels[1] (\"colour\") has 1 values, expected at least 2");
}

TEST(ConditionalDiscriminator, ProjectsItsFeaturesOntoTheLabelMap) {
  torch::manual_seed(2);
  DiscriminatorConfig config = discriminator_config_for(conditional_tiny());
  EXPECT_EQ(config.c_dim, 5);
  Discriminator d(config);
  const int64_t cmap = d->cmap_dim();
  EXPECT_EQ(cmap, config.channels_at(4));
  auto params = d->named_parameters();
  EXPECT_EQ(params["mapping.embed.weight"].sizes(), (std::vector<int64_t>{cmap, 5}));
  EXPECT_EQ(params["b4.out.weight"].sizes(), (std::vector<int64_t>{cmap, config.channels_at(4)}));
  EXPECT_FALSE(d->named_buffers().contains("mapping.w_avg"));
  at::Tensor images = torch::randn({4, 3, 16, 16});
  at::Tensor c = one_hot_labels(vocabulary(), {{0, 0}, {1, 1}, {0, 2}, {1, 0}});
  at::Tensor logits = d->forward(images, c);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{4, 1}));
  // The logit is (out · cmap) / √cmap_dim, computed here from the parts.
  at::Tensor x;
  for (auto& block : d->blocks) x = block->forward(x, block->fromrgb ? images : at::Tensor());
  at::Tensor features = d->epilogue->forward(x);
  at::Tensor expected = (features * d->mapping->forward({}, c)).sum(1, true) / std::sqrt(double(cmap));
  EXPECT_TRUE(torch::allclose(logits, expected, 1e-5, 1e-6));
  // Another label, another logit for the same image.
  at::Tensor other = one_hot_labels(vocabulary(), {{1, 2}, {0, 0}, {1, 1}, {0, 1}});
  EXPECT_GT((d->forward(images, other) - logits).abs().max().item<double>(), 1e-6);
  EXPECT_NE(error_of([&] { d->forward(images); }).find("discriminator: labels c undefined, expected [4, 5]"),
            std::string::npos);
}

// Editing is label-free: a copy of the generator whose label words are renamed samples the same
// latent for a seed and edits it the same way.
TEST(ConditionalGenerator, RenamedLabelWordsGiveTheSameSampleAndEdit) {
  test::TempDir dir;
  PipelineOptions options = write_tiny_models(dir);
  torch::manual_seed(4);
  Generator g(conditional_tiny());
  std::filesystem::create_directories(dir / "c");  // no direction table beside these generators
  save_generator(dir / "c/conditional.safetensors", *g, "stylegan2-tiny");
  GeneratorConfig renamed_config = conditional_tiny();
  renamed_config.labels = {{"kind", {"top", "sack"}}, {"hue", {"rouge", "bleu", "vert"}}};
  Generator renamed(renamed_config);
  {
    torch::NoGradGuard no_grad;
    auto to = renamed->named_parameters(), from = g->named_parameters();
    for (auto& item : from) to[item.key()].copy_(item.value());
    auto to_buffers = renamed->named_buffers(), from_buffers = g->named_buffers();
    for (auto& item : from_buffers) to_buffers[item.key()].copy_(item.value());
  }
  save_generator(dir / "c/renamed.safetensors", *renamed, "stylegan2-tiny");
  options.generator = dir / "c/conditional.safetensors";
  Pipeline a(options);
  options.generator = dir / "c/renamed.safetensors";
  Pipeline b(options);
  Rendered sa = a.sample(9, 0.7), sb = b.sample(9, 0.7);
  EXPECT_TRUE(torch::equal(sa.latent.ws, sb.latent.ws));
  EXPECT_EQ(sa.labels.substr(0, 6), "class=");
  EXPECT_EQ(sb.labels.substr(0, 5), "kind=");
  // The same label, named in each vocabulary, is the same sample.
  EXPECT_TRUE(torch::equal(a.sample(9, 0.7, -1, 0, "colour=blue").latent.ws, b.sample(9, 0.7, -1, 0, "hue=bleu").latent.ws));
  EditOptimiseConfig config;
  config.steps = 3;
  OptimiseEditResult ea = a.edit_optimise(sa.latent, "a blue bag", "a bag", config);
  OptimiseEditResult eb = b.edit_optimise(sb.latent, "a blue bag", "a bag", config);
  EXPECT_TRUE(torch::equal(ea.image, eb.image));
  EXPECT_THROW(a.sample(9, 0.7, -1, 0, "hue=bleu"), core::UsageError);
}

}  // namespace
}  // namespace hdv::gen
