// Tests for the text-steered parts of generation/: global directions (directions.h), latent
// optimisation (edit_optimise.h), the projector (projector.h), super-resolution
// (super_resolution.h), the pipeline's neutral prompts (pipeline.h) and a CLIP guide (vl_guide.h
// with a tiny random models/clip_model.h, chosen by checkpoint kind). They run the tiny
// generator and the tiny VL model with random weights: what they check is the maths (thresholds,
// scaling, resumption, constraints, that each optimiser descends its own objective), not image
// quality, which docs/generation.md measures with the trained models.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "generation/directions.h"
#include "generation/edit_optimise.h"
#include "generation/generator.h"
#include "generation/pipeline.h"
#include "generation/projector.h"
#include "generation/super_resolution.h"
#include "generation/generator_checkpoint.h"
#include "generation/vl_guide.h"
#include "models/clip_checkpoint.h"
#include "models/presets.h"
#include "models/tokenizer.h"
#include "tests/core/test_support.h"
#include "tests/generation/tiny_models.h"

namespace hdv::gen {
namespace {

using test::error_text;

Generator tiny_generator(uint64_t seed = 0) {
  torch::manual_seed(seed);
  Generator generator(generator_preset("stylegan2-tiny"));
  generator->eval();
  return generator;
}

VLGuide tiny_guide(uint64_t seed = 0) {
  torch::manual_seed(seed);
  models::VLModel model(models::vl_preset("hdvila-tiny"));
  std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a",      "red",
                                     "blue",  "shirt", "video", "of",    "you",    "can",    "see",
                                     "there", "is",    ".",     "striped", "sandal", "green"};
  models::Tokenizer tokenizer(tokens, models::TokenizerConfig{});
  VLGuideConfig config;
  config.image_size = 64;  // the tiny ResNet needs more than 16 pixels
  return VLGuide(model, tokenizer, c10::Device(c10::kCPU), config);
}

// A hand-made table: 2 layers (3 and 2 channels, the second a toRGB), D = 2.
DirectionTable hand_table() {
  DirectionTable table;
  table.mean = {torch::zeros({3}), torch::zeros({2})};
  table.std = {torch::tensor({1.0f, 2.0f, 4.0f}), torch::tensor({1.0f, 1.0f})};
  table.offsets = {0, 3};
  table.relevance = torch::tensor({1.0f, 0.0f, 0.6f, 0.8f, 0.0f, 1.0f, 0.0f, 0.0f, 0.0f, 0.0f}).reshape({5, 2});
  table.completed_layers = 2;
  return table;
}

TEST(GlobalDirections, ThresholdScaleAndChannelCount) {
  const DirectionTable table = hand_table();
  const std::vector<at::Tensor> styles = {torch::ones({1, 3}), torch::ones({1, 2})};
  // Δt = (1, 0): relevance (1, 0.6, 0) -> β 0.5 keeps channels 0 and 1; divided by 1, times σ.
  GlobalEdit edit = edit_with_directions(table, styles, torch::tensor({1.0f, 0.0f}), 2.0, 0.5);
  EXPECT_EQ(edit.channels, 2);
  EXPECT_TRUE(torch::allclose(edit.styles[0], torch::tensor({{1.0f + 2.0f * 1.0f, 1.0f + 2.0f * 0.6f * 2.0f, 1.0f}})));
  EXPECT_TRUE(torch::equal(edit.styles[1], styles[1]));
  // β above every relevance: nothing changes, 0 channels.
  edit = edit_with_directions(table, styles, torch::tensor({1.0f, 0.0f}), 2.0, 1.01);
  EXPECT_EQ(edit.channels, 0);
  EXPECT_TRUE(torch::equal(edit.styles[0], styles[0]));
  // Δt = (0, 1): relevance (0, 0.8, 1); negative strength reverses the edit.
  edit = edit_with_directions(table, styles, torch::tensor({0.0f, 1.0f}), -1.0, 0.1);
  EXPECT_EQ(edit.channels, 2);
  EXPECT_NEAR(edit.styles[0].index({0, 1}).item<double>(), 1.0 - (0.8 / 1.0) * 2.0, 1e-6);
  EXPECT_NEAR(edit.styles[0].index({0, 2}).item<double>(), 1.0 - (1.0 / 1.0) * 4.0, 1e-6);
  EXPECT_EQ(error_text<core::Error>([&] { edit_with_directions(table, styles, torch::zeros({3}), 1.0, 0.1); }),
            "edit: text direction has shape [3], expected [2]");
}

// One conv layer of 4 channels, D = 3: every row shares a strong e2 component,
// r = normalise(±e0 + 2e2) and normalise(±e1 + 2e2). Σ = RᵀR/4 = diag(0.1, 0.1, 0.8).
DirectionTable shared_component_table() {
  DirectionTable table;
  table.mean = {torch::zeros({4})};
  table.std = {torch::ones({4})};
  table.offsets = {0};
  table.relevance = torch::tensor({1.0f, 0.0f, 2.0f, -1.0f, 0.0f, 2.0f, 0.0f, 1.0f, 2.0f, 0.0f, -1.0f, 2.0f}).reshape({4, 3}) /
                    std::sqrt(5.0f);
  table.completed_layers = 1;
  return table;
}

TEST(GlobalDirections, WhitenedRelevanceDiscountsTheSharedDirection) {
  const std::vector<at::Tensor> styles = {torch::zeros({1, 4})};
  const at::Tensor dt = torch::tensor({1.0f, 0.0f, 1.0f}) / std::sqrt(2.0f);
  // Plain: relevance (3, 1, 2, 2)/√10 -> β 0.25 keeps all four, all pushed the same way.
  DirectionTable table = shared_component_table();
  GlobalEdit plain = edit_with_directions(table, styles, dt, 1.0, 0.25);
  EXPECT_EQ(plain.channels, 4);
  EXPECT_TRUE(torch::allclose(plain.styles[0], torch::tensor({{1.0f, 1.0f / 3, 2.0f / 3, 2.0f / 3}}), 1e-5, 1e-6));
  // Full whitening: W = diag(√10, √10, √1.25) (the 1e-6 ridge floor aside) gives relevance
  // (0.9623, -0.5774, 0.1925, 0.1925): β 0.25 keeps channels 0 and 1, channel 1 now pushed the
  // other way (-0.5774 / 0.9623 = -0.6), because its specific part (-e0) opposes Δt.
  whiten_directions(table, 0.0);
  GlobalEdit whitened = edit_with_directions(table, styles, dt, 1.0, 0.25);
  EXPECT_EQ(whitened.channels, 2);
  EXPECT_TRUE(torch::allclose(whitened.styles[0], torch::tensor({{1.0f, -0.6f, 0.0f, 0.0f}}), 1e-4, 1e-5));
  // A huge ridge is StyleCLIP's plain relevance again.
  whiten_directions(table, 1e6);
  GlobalEdit almost_plain = edit_with_directions(table, styles, dt, 1.0, 0.25);
  EXPECT_EQ(almost_plain.channels, 4);
  EXPECT_TRUE(torch::allclose(almost_plain.styles[0], plain.styles[0], 1e-4, 1e-5));
  // Unmeasured (zero) rows stay out; a negative ridge is refused, naming it.
  DirectionTable with_rgb = hand_table();
  whiten_directions(with_rgb, 1.0);
  EXPECT_EQ(with_rgb.whitened_relevance.slice(0, 3).abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(error_text<core::ConfigError>([&] { whiten_directions(table, -1.0); }),
            "directions: whitening ridge=-1 must be a finite number >= 0");
}

TEST(GlobalDirections, TextDirectionIsUnitAndRejectsEqualPrompts) {
  const at::Tensor d = text_direction(torch::tensor({1.0f, 0.0f}), torch::tensor({0.0f, 1.0f}));
  EXPECT_NEAR(d.norm().item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(d[0].item<double>(), std::sqrt(0.5), 1e-6);
  EXPECT_EQ(error_text<core::Error>([&] { text_direction(torch::ones({2}), torch::ones({2})); }),
            "edit: the target and neutral prompts have the same embedding; nothing to edit");
}

TEST(GlobalDirections, ComputesUnitRowsSkipsToRGBAndResumes) {
  Generator generator = tiny_generator(1);
  VLGuide guide = tiny_guide(1);
  DirectionsConfig config;
  config.images = 2;
  config.stats_samples = 64;
  config.batch = 32;
  std::vector<DirectionTable> partials;
  const DirectionTable full = compute_directions(*generator, guide, config, {},
                                                 [&](const DirectionTable& t) { partials.push_back(t); });
  const auto& layers = generator->style_layers();
  ASSERT_EQ(partials.size(), layers.size());
  EXPECT_TRUE(full.complete(layers.size()));
  EXPECT_EQ(full.relevance.sizes(), (std::vector<int64_t>{224, guide.embed_dim()}));
  for (size_t l = 0; l < layers.size(); ++l) {
    at::Tensor rows = full.relevance.slice(0, full.offsets[l], full.offsets[l] + layers[l].channels);
    at::Tensor norms = rows.norm(2, 1);
    if (layers[l].torgb) {
      EXPECT_EQ(norms.max().item<double>(), 0.0) << layers[l].name;
    } else {
      EXPECT_NEAR(norms.min().item<double>(), 1.0, 1e-4) << layers[l].name;
    }
    EXPECT_GT(full.std[l].min().item<double>(), 0.0);
  }
  // Resuming the table saved after layer 3 gives the same table as the uninterrupted run.
  DirectionTable partial = partials[2];
  partial.relevance = partial.relevance.clone();
  partial.relevance.slice(0, full.offsets[3]).zero_();
  const DirectionTable resumed = compute_directions(*generator, guide, config, partial);
  EXPECT_LT((resumed.relevance - full.relevance).abs().max().item<double>(), 1e-5);
  // Cancellation stops the work with Cancelled.
  std::atomic<bool> cancel{true};
  EXPECT_THROW(compute_directions(*generator, guide, config, {}, {}, {}, &cancel), Cancelled);
}

// Within a layer the table is saved after rounds of channel chunks (a 1024-px layer takes hours on
// a CPU), and a cancelled run saves the state of its last finished round: resuming either gives
// the uninterrupted table.
TEST(GlobalDirections, ResumesFromInsideALayerAndAfterACancel) {
  Generator generator = tiny_generator(1);
  VLGuide guide = tiny_guide(1);
  DirectionsConfig config;
  config.images = 1;
  config.stats_samples = 64;
  config.batch = 16;  // 8 channels per chunk
  const auto& layers = generator->style_layers();
  ASSERT_FALSE(layers[0].torgb);
  ASSERT_GT(layers[0].channels, 16);

  // Saved after every round (one chunk with one worker) as well as after every layer.
  std::vector<DirectionTable> partials;
  const DirectionTable full = compute_directions(*generator, guide, config, {}, [&](const DirectionTable& t) {
    DirectionTable copy = t;
    copy.relevance = t.relevance.clone();
    partials.push_back(copy);
  }, {}, nullptr, /*save_every_seconds=*/1e-9);
  EXPECT_GT(partials.size(), layers.size());
  ASSERT_EQ(partials.front().completed_layers, 0);
  ASSERT_EQ(partials.front().completed_channels, 8);
  const DirectionTable resumed = compute_directions(*generator, guide, config, partials.front());
  EXPECT_TRUE(torch::allclose(resumed.relevance, full.relevance, 1e-5, 1e-6));

  // Cancelled once 16 channels are measured: the saved state holds the finished rounds only, and
  // continuing it gives the uninterrupted table.
  std::atomic<bool> cancel{false};
  DirectionTable at_cancel;
  EXPECT_THROW(compute_directions(*generator, guide, config, {},
                                  [&](const DirectionTable& t) {
                                    at_cancel = t;
                                    at_cancel.relevance = t.relevance.clone();
                                  },
                                  [&](int64_t done, int64_t, double) {
                                    if (done >= 16) cancel.store(true);
                                  },
                                  &cancel),
               Cancelled);
  EXPECT_EQ(at_cancel.completed_layers, 0);
  EXPECT_EQ(at_cancel.completed_channels, 16);
  EXPECT_NEAR(at_cancel.relevance.slice(0, 0, 16).norm(2, 1).min().item<double>(), 1.0, 1e-4);
  EXPECT_EQ(at_cancel.relevance.slice(0, 16).abs().max().item<double>(), 0.0);
  const DirectionTable continued = compute_directions(*generator, guide, config, at_cancel);
  EXPECT_TRUE(torch::allclose(continued.relevance, full.relevance, 1e-5, 1e-6));
}

// Two workers, each on its own copy of the same models, share out the channels: the table is the
// one a single worker gives (both on one CPU thread per worker), and progress climbs to the
// measured channels.
TEST(GlobalDirections, TwoWorkersGiveTheSameTableAsOne) {
  const ScopedThreads one_thread(1);
  Generator g0 = tiny_generator(1), g1 = tiny_generator(1);
  VLGuide v0 = tiny_guide(1), v1 = tiny_guide(1);
  DirectionsConfig config;
  config.images = 2;
  config.stats_samples = 64;
  config.batch = 8;
  const DirectionTable one = compute_directions(*g0, v0, config);
  const std::vector<DirectionsWorker> workers = {{g0.get(), &v0}, {g1.get(), &v1}};
  std::vector<int64_t> steps;
  int64_t total = 0;
  const DirectionTable two = compute_directions(workers, config, {}, {}, [&](int64_t step, int64_t of, double) {
    steps.push_back(step);
    total = of;
  });
  EXPECT_TRUE(torch::equal(one.relevance, two.relevance));
  int64_t measured = 0;
  for (const StyleLayer& layer : g0->style_layers()) measured += layer.torgb ? 0 : layer.channels;
  EXPECT_EQ(total, measured);
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps.back(), measured);
  EXPECT_TRUE(std::is_sorted(steps.begin(), steps.end()));
}

TEST(GlobalDirections, SaveLoadAndGeneratorCheck) {
  test::TempDir dir;
  Generator generator = tiny_generator(2);
  VLGuide guide = tiny_guide(2);
  DirectionsConfig config;
  config.images = 1;
  config.stats_samples = 16;
  config.batch = 64;
  const DirectionTable table = compute_directions(*generator, guide, config);
  save_directions(dir / "d.safetensors", table);
  const DirectionTable loaded = load_directions(dir / "d.safetensors", *generator);
  EXPECT_TRUE(torch::equal(loaded.relevance, table.relevance));
  EXPECT_EQ(loaded.offsets, table.offsets);
  EXPECT_TRUE(torch::equal(loaded.std[3], table.std[3]));
  // A table written before generators had labels (its generator config has no "labels" key) still
  // belongs to an unconditional generator of the same geometry; a conditional one is another.
  DirectionTable older = table;
  older.generator_config.erase("labels");
  save_directions(dir / "older.safetensors", older);
  EXPECT_TRUE(torch::equal(load_directions(dir / "older.safetensors", *generator).relevance, table.relevance));
  GeneratorConfig labelled = generator_preset("stylegan2-tiny");
  labelled.labels = {{"colour", {"red", "blue"}}};
  Generator conditional(labelled);
  EXPECT_NE(error_text<core::FormatError>([&] { load_directions(dir / "older.safetensors", *conditional); })
                .find("computed for another generator geometry"),
            std::string::npos);
  GeneratorConfig other = generator_preset("stylegan2-tiny");
  other.resolution = 32;
  Generator bigger(other);
  const std::string message = error_text<core::FormatError>([&] { load_directions(dir / "d.safetensors", *bigger); });
  EXPECT_NE(message.find("computed for another generator geometry"), std::string::npos) << message;
}

// W+ of one random z (the tiny generator's z is 32 wide), broadcast to every layer.
at::Tensor random_ws(Generator& generator) {
  torch::NoGradGuard no_grad;
  return generator->broadcast(generator->map(torch::randn({1, 32})));
}

// The tiny generator and VL model (seed 3), the prompt "a red shirt" and one source latent: what
// every latent-optimisation test starts from.
struct OptimiseSetup {
  Generator generator = tiny_generator(3);
  VLGuide guide = tiny_guide(3);
  at::Tensor text = guide.embed_text("a red shirt");
  at::Tensor ws = random_ws(generator);

  // cos(E_img(G(latent)), text), recomputed without gradients.
  double similarity(const at::Tensor& latent) {
    torch::NoGradGuard no_grad;
    return (guide.embed_images(generator->synthesize(latent)) * text.reshape({1, -1})).sum(1).item<double>();
  }
};

TEST(EditOptimise, RaisesTextSimilarity) {
  OptimiseSetup t;
  auto& [generator, guide, text, ws] = t;
  EXPECT_NEAR(text.norm().item<double>(), 1.0, 1e-5);
  EditOptimiseConfig config;
  config.steps = 40;
  config.l2_lambda = 0.0008;
  config.direction_lambda = 0;  // StyleCLIP's objective alone
  int64_t last_step = 0;
  const OptimiseResult result =
      edit_optimise(*generator, guide, ws, text, config, [&](int64_t step, int64_t, double) { last_step = step; });
  EXPECT_EQ(last_step, 40);
  EXPECT_GT(result.similarity, result.start_similarity + 0.01)
      << "start " << result.start_similarity << " end " << result.similarity;
  EXPECT_EQ(error_text<core::Error>([&] { guide.embed_text("   "); }), "prompt: empty text");
}

TEST(EditOptimise, ReturnsTheBestLatentSeenEvenWhenStepsOvershoot) {
  // lr 5 throws the latent far on every step; the result must still be no worse, by the
  // objective, than the source (which step 0 sees), and its similarity is that latent's.
  OptimiseSetup t;
  auto& [generator, guide, text, ws] = t;
  EditOptimiseConfig config;
  config.steps = 12;
  config.lr = 5.0;
  config.direction_lambda = 0;  // the objective below is StyleCLIP's
  const OptimiseResult result = edit_optimise(*generator, guide, ws, text, config);
  const double l2 = (result.ws - ws).square().sum().item<double>();
  const double objective = (1 - result.similarity) + config.l2_lambda * l2;
  EXPECT_LE(objective, 1 - result.start_similarity + 1e-6) << "start " << result.start_similarity << " end " << result.similarity
                                                           << " l2 " << l2;
  EXPECT_NEAR(result.similarity, t.similarity(result.ws), 1e-5);
}

TEST(EditOptimise, MovesOnlyTheChosenLayers) {
  OptimiseSetup t;
  auto& [generator, guide, text, ws] = t;  // ws: [1, 6, 32]
  EditOptimiseConfig config;
  config.steps = 10;
  config.direction_lambda = 0;
  config.layer_begin = 2;
  config.layer_end = 4;
  const OptimiseResult result = edit_optimise(*generator, guide, ws, text, config);
  ASSERT_EQ(result.ws.sizes(), ws.sizes());
  EXPECT_TRUE(torch::equal(result.ws.slice(1, 0, 2), ws.slice(1, 0, 2)));
  EXPECT_TRUE(torch::equal(result.ws.slice(1, 4, 6), ws.slice(1, 4, 6)));
  EXPECT_GT((result.ws.slice(1, 2, 4) - ws.slice(1, 2, 4)).abs().max().item<double>(), 1e-4);
  config.layer_begin = 6;
  config.layer_end = -1;
  EXPECT_EQ(error_text<core::ConfigError>([&] { edit_optimise(*generator, guide, ws, text, config); }),
            "edit-optimise: layers 6:-1 select none of the 6 ws");
}

TEST(EditOptimise, ViewsAreSeededAndTheReportedSimilarityIsTheImageItself) {
  OptimiseSetup t;
  auto& [generator, guide, text, ws] = t;
  EditOptimiseConfig config;
  config.steps = 8;
  config.direction_lambda = 0;
  config.views = 3;
  config.seed = 11;
  const OptimiseResult a = edit_optimise(*generator, guide, ws, text, config);
  const OptimiseResult b = edit_optimise(*generator, guide, ws, text, config);
  EXPECT_TRUE(torch::equal(a.ws, b.ws));
  config.seed = 12;
  const OptimiseResult c = edit_optimise(*generator, guide, ws, text, config);
  EXPECT_FALSE(torch::equal(a.ws, c.ws));
  EXPECT_NEAR(a.similarity, t.similarity(a.ws), 1e-5);
  config.views = 0;
  EXPECT_EQ(error_text<core::ConfigError>([&] { config.validate(); }), "edit-optimise: views=0 must be >= 1");
}

TEST(EditOptimise, DirectionalTermMovesTheImageAlongTheTextStep) {
  OptimiseSetup t;
  auto& [generator, guide, text, ws] = t;
  const at::Tensor direction = text_direction(text, guide.embed_text("a shirt"));
  // cos(E_img(G(latent)) − E_img(G(ws)), Δt): how well the image's step follows the text's.
  auto alignment = [&](const at::Tensor& latent) {
    torch::NoGradGuard no_grad;
    const at::Tensor step = guide.embed_images(generator->synthesize(latent)) - guide.embed_images(generator->synthesize(ws));
    return ((step * direction.reshape({1, -1})).sum(1) / step.norm(2, 1)).item<double>();
  };
  EditOptimiseConfig config;
  EXPECT_EQ(config.direction_lambda, 1.0);  // the default
  config.steps = 30;
  config.l2_lambda = 0.0008;
  config.direction_lambda = 0;
  const OptimiseResult plain = edit_optimise(*generator, guide, ws, text, config);
  config.direction_lambda = 4;
  const OptimiseResult directional = edit_optimise(*generator, guide, ws, text, config, {}, nullptr, direction);
  EXPECT_GT(alignment(directional.ws), alignment(plain.ws) + 0.05)
      << "plain " << alignment(plain.ws) << " directional " << alignment(directional.ws);
  EXPECT_EQ(error_text<core::ConfigError>([&] { edit_optimise(*generator, guide, ws, text, config); }),
            "edit-optimise: direction_lambda > 0 needs the text direction (a neutral prompt)");
}

TEST(EditOptimise, ParsesLayerRanges) {
  EXPECT_EQ(parse_layer_range("4:", "--layers"), (std::pair<int64_t, int64_t>{4, -1}));
  EXPECT_EQ(parse_layer_range("0:3", "--layers"), (std::pair<int64_t, int64_t>{0, 3}));
  for (const std::string bad : {"3:3", "5:2", ":4", "4", "a:b", "1:-2", ""}) {
    EXPECT_EQ(error_text<core::UsageError>([&] { parse_layer_range(bad, "--layers"); }),
              "--layers: expected BEGIN:END or BEGIN: (W+ layer indices, BEGIN < END), got \"" + bad + "\"");
  }
}

// An image the generator can make: the target of the projector tests.
at::Tensor generated_target(Generator& generator) {
  torch::NoGradGuard no_grad;
  return generator->forward(torch::randn({1, 32}), 1.0, NoiseMode::Const);
}

TEST(Projector, ReconstructsAGeneratedImage) {
  Generator generator = tiny_generator(4);
  const at::Tensor target = generated_target(generator);
  at::Tensor start;
  InvertConfig config;
  config.steps = 150;
  config.vl_weight = 0;
  config.w_avg_samples = 512;
  config.noise_regularize = 1e3;
  config.w_plus = true;
  const InvertResult result = invert(*generator, nullptr, target[0], config);
  {
    torch::NoGradGuard no_grad;
    start = generator->synthesize(generator->broadcast(generator->map(torch::randn({512, 32})).mean(0, true)), NoiseMode::None);
  }
  const double start_psnr = psnr(start, target);
  EXPECT_GT(result.psnr, start_psnr + 3.0) << "w_avg image " << start_psnr << " dB, inverted " << result.psnr << " dB";
  EXPECT_NEAR(result.psnr, psnr(result.image, target), 1e-6);
  EXPECT_EQ(result.noise.size(), 5u);
}

// The studio runs other work between inversions; the result must depend on config.seed only,
// not on the global random state left behind.
TEST(Projector, SameSeedSameResultWhateverRanBefore) {
  Generator generator = tiny_generator(4);
  const at::Tensor target = generated_target(generator);
  InvertConfig config;
  config.steps = 20;
  config.vl_weight = 0;
  config.w_avg_samples = 64;
  torch::manual_seed(1);
  const InvertResult first = invert(*generator, nullptr, target[0], config);
  torch::manual_seed(2);
  torch::randn({1000});
  const InvertResult second = invert(*generator, nullptr, target[0], config);
  EXPECT_TRUE(torch::equal(first.ws, second.ws));
  EXPECT_TRUE(torch::equal(first.image, second.image));
  config.seed = 1;
  const InvertResult other = invert(*generator, nullptr, target[0], config);
  EXPECT_FALSE(torch::equal(first.ws, other.ws));
}

TEST(SuperResolution, OutputsMatchTheInputWhenDownscaled) {
  Generator generator = tiny_generator(5);
  at::Tensor high;
  {
    torch::NoGradGuard no_grad;
    high = generator->forward(torch::randn({1, 32}), 0.7).clamp(-0.9, 0.9);
  }
  const at::Tensor low = downscale(high, 4);
  SRConfig config;
  config.steps = 20;
  config.candidates = 3;
  config.fit_samples = 256;
  const SRResult result = super_resolve(*generator, nullptr, low[0], 4, {}, config);
  ASSERT_EQ(result.candidates.size(), 3u);
  EXPECT_EQ(result.bicubic.sizes(), (std::vector<int64_t>{1, 3, 16, 16}));
  for (size_t k = 0; k < result.candidates.size(); ++k) {
    const SRCandidate& c = result.candidates[k];
    EXPECT_EQ(c.image.sizes(), (std::vector<int64_t>{1, 3, 16, 16}));
    EXPECT_LT((downscale(c.image, 4) - low).abs().max().item<double>(), 1e-4) << "candidate " << k;
    if (k > 0) {
      EXPECT_LE(result.candidates[k - 1].score, c.score);
    }
  }
  EXPECT_EQ(error_text<core::Error>([&] { super_resolve(*generator, nullptr, torch::zeros({3, 8, 8}), 4, {}, config); }),
            "sr: input has shape [3, 8, 8], expected [3, 4, 4] for ×4 with a 16-pixel generator");
  EXPECT_EQ(error_text<core::Error>([&] { super_resolve(*generator, nullptr, low, 3, {}, config); }),
            "sr: scale 3 does not divide the generator's resolution 16");
}

TEST(Pipeline, DerivesNeutralPrompts) {
  EXPECT_EQ(derive_neutral("a red shirt"), "a shirt");
  EXPECT_EQ(derive_neutral("A striped ankle boot."), "a boot");
  EXPECT_EQ(derive_neutral("green sandal"), "sandal");
  EXPECT_EQ(derive_neutral("the blue umbrella"), "the umbrella");
  EXPECT_EQ(derive_neutral("a orange"), "an orange");
  EXPECT_EQ(neutral_prompt("a red shirt", "", "edit"), "a shirt");
  EXPECT_EQ(neutral_prompt("一件红色的T恤", "一件T恤", "edit"), "一件T恤");
  EXPECT_EQ(error_text<core::Error>([&] { neutral_prompt("一件红色的T恤", "", "edit-optimise"); }),
            "edit-optimise: no neutral prompt can be derived from \"一件红色的T恤\" (the article and last word of an "
            "English prompt); give one (job field \"neutral\", flag --neutral)");
}

// A CLIP guide with a tiny random model (32-px ViT, one block per tower, D = 16) and a toy BPE.
models::ClipModel tiny_clip(uint64_t seed) {
  torch::manual_seed(seed);
  models::ClipConfig config;
  config.vision = {32, 16, 32, 1, 1};
  config.text = {16, 512 + 3 + 2, 32, 1, 1};
  config.embed_dim = 16;
  return models::ClipModel(config);
}

models::ClipTokenizer tiny_clip_tokenizer() { return models::ClipTokenizer({"r e", "re d</w>", "s h"}, "toy merges"); }

TEST(ClipGuide, EmbedsTextAndImagesAsUnitVectorsWithPhotoTemplates) {
  VLGuide guide(tiny_clip(4), tiny_clip_tokenizer(), c10::Device(c10::kCPU));
  EXPECT_TRUE(guide.is_clip());
  EXPECT_STREQ(guide.kind(), "clip");
  EXPECT_EQ(guide.config().templates, clip_prompt_templates());  // the VL default is swapped for CLIP's
  EXPECT_EQ(guide.embed_dim(), 16);
  const at::Tensor red = guide.embed_text("a red shirt"), blue = guide.embed_text("a blue shirt");
  EXPECT_EQ(red.sizes(), (std::vector<int64_t>{16}));
  EXPECT_NEAR(red.norm().item<double>(), 1.0, 1e-5);
  EXPECT_LT((red * blue).sum().item<double>(), 0.9999);  // different prompts, different embeddings
  at::Tensor images = (torch::rand({2, 3, 20, 24}) * 2 - 1).requires_grad_(true);
  const at::Tensor embeddings = guide.embed_images(images);  // resized to 32 px inside
  EXPECT_EQ(embeddings.sizes(), (std::vector<int64_t>{2, 16}));
  EXPECT_NEAR(embeddings.norm(2, 1).min().item<double>(), 1.0, 1e-5);
  EXPECT_NEAR(embeddings.norm(2, 1).max().item<double>(), 1.0, 1e-5);
  (embeddings * red).sum().backward();
  EXPECT_GT(images.grad().abs().sum().item<double>(), 0.0);
  EXPECT_EQ(error_text<core::Error>([&] { guide.embed_text("  "); }), "prompt: empty text");
}

TEST(ClipGuide, LoadVlGuidePicksTheModelByTheCheckpointKind) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("hdv_test_clip_guide_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  models::ClipModel clip = tiny_clip(5);
  models::save_clip_model(dir / "clip.safetensors", *clip, tiny_clip_tokenizer(), "test");
  VLGuide direct(clip, tiny_clip_tokenizer(), c10::Device(c10::kCPU));
  VLGuide loaded = load_vl_guide(dir / "clip.safetensors", {}, "/nonexistent/python", c10::Device(c10::kCPU));
  EXPECT_TRUE(loaded.is_clip());
  EXPECT_TRUE(torch::allclose(loaded.embed_text("a red shirt"), direct.embed_text("a red shirt"), 1e-6, 1e-6));
  Generator generator = tiny_generator();
  save_generator(dir / "generator.safetensors", *generator, "test");
  const std::filesystem::path wrong = dir / "generator.safetensors";
  const std::string message = error_text<core::FormatError>(
      [&] { load_vl_guide(wrong, {}, "/nonexistent/python", c10::Device(c10::kCPU)); });
  std::filesystem::remove_all(dir);
  EXPECT_EQ(message, wrong.string() + ": a \"generator\" checkpoint; the guide takes a \"vl-model\" (hdvila-train "
                                      "pretrain) or a \"clip\" checkpoint (hdvila-train import --clip)");
}

}  // namespace
}  // namespace hdv::gen
