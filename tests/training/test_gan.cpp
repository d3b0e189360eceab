// GAN objectives (training/gan_losses.h), the Fréchet distance (training/frechet.h) and a tiny
// StyleGAN2 run (training/gan_trainer.h): every output written, and resume equal to an
// uninterrupted run.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>

#include "core/checkpoint.h"
#include "core/config.h"
#include "core/error.h"
#include "generation/generator.h"
#include "generation/generator_checkpoint.h"
#include "generation/labels.h"
#include "generation/oracle.h"
#include "tests/core/test_support.h"
#include "tests/training/gan_test_data.h"
#include "training/frechet.h"
#include "training/gan_guide.h"
#include "training/gan_losses.h"
#include "training/gan_trainer.h"

namespace hdv::train {
namespace {
using test::TempDir;

TEST(GanLosses, NonSaturatingLogisticOnKnownLogits) {
  const double l3 = std::log(3.0);
  at::Tensor fake = torch::tensor({{0.0}, {l3}}, torch::kFloat64);
  // softplus(-0) = ln 2, softplus(-ln 3) = ln(4/3)
  EXPECT_NEAR(generator_logistic_loss(fake).item<double>(), (std::log(2.0) + std::log(4.0 / 3.0)) / 2, 1e-12);
  at::Tensor real = torch::tensor({{l3}, {-l3}}, torch::kFloat64);
  // fake: softplus(0) = ln 2, softplus(ln 3) = ln 4; real: softplus(-ln 3) = ln(4/3), softplus(ln 3) = ln 4
  const double expected = (std::log(2.0) + std::log(4.0)) / 2 + (std::log(4.0 / 3.0) + std::log(4.0)) / 2;
  EXPECT_NEAR(discriminator_logistic_loss(real, fake).item<double>(), expected, 1e-12);
}

TEST(GanLosses, R1EqualsTheSquaredGradientOfATinyDiscriminator) {
  // Linear D(x) = Σ w·x: ∇ = w for every image -> R1 = Σ w² = 1 + 4 + 9 + 16 = 30.
  at::Tensor w = torch::tensor({1.0, -2.0, 3.0, 4.0}, torch::kFloat64).view({1, 1, 2, 2});
  at::Tensor x = torch::randn({3, 1, 2, 2}, torch::kFloat64).requires_grad_(true);
  at::Tensor r1 = r1_penalty((x * w).sum({1, 2, 3}).unsqueeze(1), x);
  ASSERT_EQ(r1.sizes(), (std::vector<int64_t>{3}));
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(r1[i].item<double>(), 30.0, 1e-12);
  // Quadratic D(x) = Σ x²: ∇ = 2x -> R1 = 4 Σ x², and its own gradient 8x reaches x (create_graph).
  at::Tensor y = torch::tensor({1.0, 2.0, 0.0, -1.0}, torch::kFloat64).view({1, 1, 2, 2}).requires_grad_(true);
  at::Tensor r1q = r1_penalty(y.square().sum({1, 2, 3}).unsqueeze(1), y);
  EXPECT_NEAR(r1q[0].item<double>(), 24.0, 1e-12);
  r1q.sum().backward();
  EXPECT_TRUE(torch::allclose(y.grad(), 8 * y.detach()));
}

TEST(GanLosses, PathLengthOfALinearGenerator) {
  // img = 3·ws reshaped: J_wᵀy = 3·y/√(H·W) = 1.5·noise -> length = 1.5·‖noise‖ per image.
  at::Tensor ws = torch::randn({2, 1, 4}, torch::kFloat64).requires_grad_(true);
  at::Tensor images = (ws * 3.0).view({2, 1, 2, 2});
  at::Tensor noise = torch::randn({2, 1, 2, 2}, torch::kFloat64);
  at::Tensor pl_mean = torch::zeros({}, torch::kFloat64);
  PathLength pl = path_length_penalty(images, ws, noise, pl_mean, 0.01);
  at::Tensor expected = 1.5 * noise.flatten(1).norm(2, 1);
  EXPECT_TRUE(torch::allclose(pl.lengths, expected));
  EXPECT_NEAR(pl_mean.item<double>(), 0.01 * expected.mean().item<double>(), 1e-12);
  EXPECT_TRUE(torch::allclose(pl.penalty.detach(), (expected - pl_mean).square()));
}

TEST(GanLosses, LazyRegularisationCorrectsAdam) {
  LazyAdam d = lazy_adam(0.0025, 0.0, 0.99, 16);
  EXPECT_DOUBLE_EQ(d.lr, 0.0025 * 16.0 / 17.0);
  EXPECT_DOUBLE_EQ(d.beta1, 0.0);
  EXPECT_DOUBLE_EQ(d.beta2, std::pow(0.99, 16.0 / 17.0));
  LazyAdam g = lazy_adam(0.0025, 0.0, 0.99, 4);
  EXPECT_DOUBLE_EQ(g.lr, 0.002);
  LazyAdam none = lazy_adam(0.0025, 0.0, 0.99, 0);
  EXPECT_DOUBLE_EQ(none.lr, 0.0025);
  EXPECT_DOUBLE_EQ(none.beta2, 0.99);
}

TEST(GanLosses, EmaHalfLifeAndRampUp) {
  EXPECT_DOUBLE_EQ(ema_beta(8, 10.0, 0.0, 0), std::pow(0.5, 8.0 / 10000.0));
  EXPECT_DOUBLE_EQ(ema_beta(8, 10.0, 0.05, 1000), std::pow(0.5, 8.0 / 50.0));  // ramp: 1000·0.05 images
  EXPECT_DOUBLE_EQ(ema_beta(8, 10.0, 0.05, 10'000'000), std::pow(0.5, 8.0 / 10000.0));
  EXPECT_DOUBLE_EQ(ema_beta(8, 10.0, 0.05, 0), 0.0);  // the first step copies G
  EXPECT_EQ(mixing_cutoff(0.5, 3, 6, 0.9), 3);
  EXPECT_EQ(mixing_cutoff(0.95, 3, 6, 0.9), 6);
}

TEST(FrechetDistance, IdenticalSetsAreAtZero) {
  torch::manual_seed(0);
  at::Tensor f = torch::randn({200, 16});
  FeatureStatistics s = feature_statistics(f);
  EXPECT_NEAR(frechet_distance(s, s), 0.0, 1e-8);
}

TEST(FrechetDistance, MatchesTheClosedFormOfTwoGaussians) {
  // Diagonal: μ = 0, Σ = diag(1, 4) vs μ = (1, 2), Σ = diag(4, 9):
  // 1 + 4 + (1 + 4 + 4 + 9) − 2(√4 + √36) = 7.
  FeatureStatistics a{torch::zeros({2}, torch::kFloat64), torch::diag(torch::tensor({1.0, 4.0}, torch::kFloat64)), 0};
  FeatureStatistics b{torch::tensor({1.0, 2.0}, torch::kFloat64), torch::diag(torch::tensor({4.0, 9.0}, torch::kFloat64)), 0};
  EXPECT_NEAR(frechet_distance(a, b), 7.0, 1e-10);
  // Non-commuting: Σ₁ = [[2, 1], [1, 2]] (eigenvalues 3, 1) vs I: 4 + 2 − 2(√3 + 1) = 4 − 2√3.
  FeatureStatistics c{torch::zeros({2}, torch::kFloat64), torch::tensor({{2.0, 1.0}, {1.0, 2.0}}, torch::kFloat64), 0};
  FeatureStatistics i{torch::zeros({2}, torch::kFloat64), torch::eye(2, torch::kFloat64), 0};
  EXPECT_NEAR(frechet_distance(c, i), 4.0 - 2.0 * std::sqrt(3.0), 1e-10);
  EXPECT_NEAR(frechet_distance(i, c), 4.0 - 2.0 * std::sqrt(3.0), 1e-10);
  // Sampled: 40,000 draws of each Gaussian land near the closed form.
  torch::manual_seed(3);
  at::Tensor l = torch::linalg_cholesky(c.covariance);
  at::Tensor xc = torch::randn({40000, 2}, torch::kFloat64).matmul(l.t());
  at::Tensor xi = torch::randn({40000, 2}, torch::kFloat64) + torch::tensor({0.5, 0.0}, torch::kFloat64);
  EXPECT_NEAR(frechet_distance(feature_statistics(xc), feature_statistics(xi)), 0.25 + 4.0 - 2.0 * std::sqrt(3.0), 0.03);
}

TEST(FrechetDistance, SquareRootOfAPsdMatrix) {
  at::Tensor m = torch::tensor({{5.0, 2.0, 0.0}, {2.0, 3.0, 1.0}, {0.0, 1.0, 2.0}}, torch::kFloat64);
  at::Tensor r = sqrtm_psd(m);
  EXPECT_TRUE(torch::allclose(r.matmul(r), m, 1e-10, 1e-10));
  EXPECT_TRUE(torch::allclose(r, r.t()));
  EXPECT_THROW(feature_statistics(torch::zeros({1, 4})), core::Error);
}

TEST(ImageGrid, TilesRowMajor) {
  at::Tensor images = torch::arange(5, torch::kFloat32).view({5, 1, 1, 1}).expand({5, 1, 2, 2}).contiguous();
  at::Tensor grid = image_grid(images, 3);
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{1, 4, 6}));
  EXPECT_EQ(grid[0][0][2].item<float>(), 1.0f);  // image 1: row 0, column 1
  EXPECT_EQ(grid[0][3][1].item<float>(), 3.0f);  // image 3: row 1, column 0
  EXPECT_EQ(grid[0][3][5].item<float>(), -1.0f); // empty cell
}

std::vector<core::Json> read_metrics(const std::filesystem::path& path) {
  std::vector<core::Json> records;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) records.push_back(core::parse_json(line, path.string()));
  }
  return records;
}

GanRun tiny_run(const LabelledImages& images, const std::filesystem::path& out, int64_t steps) {
  GanRun run;
  run.config.preset = "stylegan2-tiny";
  run.config.resolution = 16;
  run.config.batch = 4;
  run.config.steps = steps;
  run.config.seed = 7;
  run.config.r1_interval = 2;  // exercise R1 often in few steps
  run.config.pl_weight = 2;    // and path length
  run.config.pl_interval = 2;
  run.config.log_every = 1;
  run.config.sample_every = 3;
  run.config.sample_count = 4;
  run.config.checkpoint_every = 3;
  run.config.keep_checkpoints = 2;
  run.images = &images;
  run.out = out;
  run.device = "cpu";
  return run;
}

TEST(GanTrainer, TinyRunWritesEveryOutputAndResumesExactly) {
  TempDir dir;
  LabelledImages images = test::square_images(64, 16, 1);
  GanResult straight = train_gan(tiny_run(images, dir / "straight", 8));
  EXPECT_EQ(straight.step, 8);
  for (const char* file : {"config.json", "metrics.jsonl", "generator.safetensors", "samples/step-00000003.png",
                           "samples/step-00000006.png", "samples/step-00000008.png", "samples/step-00000008-raw.png",
                           "checkpoints/step-00000006.safetensors", "checkpoints/step-00000008.safetensors"}) {
    EXPECT_TRUE(std::filesystem::exists(dir / "straight" / file)) << file;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "straight/checkpoints/step-00000003.safetensors"));  // keep 2
  core::Checkpoint state = core::Checkpoint::load(dir / "straight/checkpoints/step-00000008.safetensors", kGanStateKind);
  EXPECT_EQ(state.info().step, 8);
  for (const char* name : {"G.mapping.fc0.weight", "D.b16.conv0.weight", "G_ema.synthesis.b4.const",
                           "optim.G.mapping.fc0.weight.exp_avg", "optim.D.b4.out.weight.exp_avg_sq", "run.rng",
                           "run.pl_mean"}) {
    EXPECT_TRUE(state.file().contains(name)) << name;
  }
  gen::Generator g = gen::load_generator(dir / "straight/generator.safetensors");
  EXPECT_EQ(g->config().resolution, 16);
  // generator.safetensors is G_ema.
  EXPECT_TRUE(torch::equal(g->named_parameters()["mapping.fc0.weight"], state.tensor("G_ema.mapping.fc0.weight")));

  std::vector<core::Json> a = read_metrics(dir / "straight/metrics.jsonl");
  ASSERT_EQ(a.size(), 8u);
  for (const char* key : {"step", "kimg", "loss_G", "loss_D", "r1", "pl", "img_per_s", "elapsed_s"}) {
    EXPECT_TRUE(a[0].contains(key)) << key;
  }
  EXPECT_GT(a[0]["r1"].get<double>(), 0.0);

  // 5 steps (checkpoint at 3 and the end), then resume from step 3 to 8.
  train_gan(tiny_run(images, dir / "resumed", 5));
  std::filesystem::remove(dir / "resumed/checkpoints/step-00000005.safetensors");
  GanRun again = tiny_run(images, dir / "resumed", 8);
  again.resume = "auto";
  train_gan(again);
  std::vector<core::Json> b = read_metrics(dir / "resumed/metrics.jsonl");
  ASSERT_EQ(b.size(), 8u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(b[i]["step"], a[i]["step"]);
    EXPECT_EQ(b[i]["loss_G"].get<double>(), a[i]["loss_G"].get<double>()) << "step " << i + 1;
    EXPECT_EQ(b[i]["loss_D"].get<double>(), a[i]["loss_D"].get<double>()) << "step " << i + 1;
    EXPECT_EQ(b[i]["r1"].get<double>(), a[i]["r1"].get<double>()) << "step " << i + 1;
    EXPECT_EQ(b[i]["pl"].get<double>(), a[i]["pl"].get<double>()) << "step " << i + 1;
  }
  core::Checkpoint end = core::Checkpoint::load(dir / "resumed/checkpoints/step-00000008.safetensors", kGanStateKind);
  EXPECT_TRUE(torch::equal(end.tensor("G_ema.mapping.fc0.weight"), state.tensor("G_ema.mapping.fc0.weight")));
  EXPECT_TRUE(torch::equal(end.tensor("D.b4.out.weight"), state.tensor("D.b4.out.weight")));
}

TEST(GanTrainer, RefusesAFolderWithCheckpointsWithoutResume) {
  TempDir dir;
  LabelledImages images = test::square_images(16, 16, 1);
  train_gan(tiny_run(images, dir / "run", 3));
  try {
    train_gan(tiny_run(images, dir / "run", 3));
    FAIL() << "no error";
  } catch (const core::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("already holds checkpoints; pass --resume auto"), std::string::npos) << e.what();
  }
  GanRun changed = tiny_run(images, dir / "run", 6);
  changed.resume = "auto";
  changed.config.lr = 0.001;
  try {
    train_gan(changed);
    FAIL() << "no error";
  } catch (const core::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("lr: checkpoint 0.0025, now 0.001"), std::string::npos) << e.what();
  }
}

TEST(GanTrainer, InitGeneratorStartsGAndEmaFromTheFile) {
  TempDir dir;
  LabelledImages images = test::square_images(16, 16, 1);
  train_gan(tiny_run(images, dir / "first", 3));
  const auto init_file = dir / "first/generator.safetensors";
  gen::Generator init = gen::load_generator(init_file);

  // One step from the file: the first G_ema update copies G (ramp-up), and the first Adam step
  // moves a weight by at most lr (no path-length step, so one G step), so G_ema is within lr of
  // the file. A random start is not.
  GanRun tuned = tiny_run(images, dir / "tuned", 1);
  tuned.config.init_generator = init_file.string();
  tuned.config.seed = 8;
  tuned.config.pl_weight = 0;
  train_gan(tuned);
  GanRun fresh = tiny_run(images, dir / "fresh", 1);
  fresh.config.seed = 8;
  train_gan(fresh);
  gen::Generator after = gen::load_generator(dir / "tuned/generator.safetensors");
  gen::Generator other = gen::load_generator(dir / "fresh/generator.safetensors");
  for (const char* name : {"mapping.fc0.weight", "synthesis.b16.conv1.weight", "synthesis.b4.const"}) {
    at::Tensor start = init->named_parameters()[name];
    const double moved = (after->named_parameters()[name] - start).abs().max().item<double>();
    EXPECT_LE(moved, 0.0025 * 1.001) << name;
    EXPECT_GT((other->named_parameters()[name] - start).abs().max().item<double>(), 0.1) << name;
  }
  // Buffers come from the file too: the const noise is not trained, and the seeds differ.
  EXPECT_TRUE(torch::equal(after->named_buffers()["synthesis.b8.conv0.noise_const"],
                           init->named_buffers()["synthesis.b8.conv0.noise_const"]));
  EXPECT_FALSE(torch::equal(other->named_buffers()["synthesis.b8.conv0.noise_const"],
                            init->named_buffers()["synthesis.b8.conv0.noise_const"]));

  // A D warm-up keeps G and G_ema exactly at the file while D trains.
  GanRun warmup = tiny_run(images, dir / "warmup", 2);
  warmup.config.init_generator = init_file.string();
  warmup.config.d_warmup = 2;
  train_gan(warmup);
  core::Checkpoint state = core::Checkpoint::load(dir / "warmup/checkpoints/step-00000002.safetensors", kGanStateKind);
  for (auto& [name, tensor] : gen::generator_tensors(*init)) {
    EXPECT_TRUE(torch::equal(state.tensor("G." + name), tensor)) << name;
    EXPECT_TRUE(torch::equal(state.tensor("G_ema." + name), tensor)) << name;
  }

  GanRun wrong = tiny_run(images, dir / "wrong", 1);
  wrong.config.resolution = 32;
  wrong.config.init_generator = init_file.string();
  try {
    train_gan(wrong);
    FAIL() << "no error";
  } catch (const core::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("its geometry differs from the run's (stylegan2-tiny at 32 px): resolution: file 16, run 32"),
              std::string::npos)
        << e.what();
  }

  // A missing file is named, and the run writes nothing.
  GanRun missing = tiny_run(images, dir / "missing", 1);
  missing.config.init_generator = (dir / "nope.safetensors").string();
  try {
    train_gan(missing);
    FAIL() << "no error";
  } catch (const core::IoError& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "nope.safetensors").string() + ": no such file");
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "missing/generator.safetensors"));

  GanConfig config;
  config.d_warmup = -1;
  try {
    config.validate();
    FAIL() << "no error";
  } catch (const core::ConfigError& e) {
    EXPECT_STREQ(e.what(), "d_warmup=-1 must be >= 0");
  }
}

TEST(GanTrainer, Bf16PrecisionRunsTheNetworksInBf16) {
  TempDir dir;
  LabelledImages images = test::square_images(16, 16, 1);
  GanResult fp32 = train_gan(tiny_run(images, dir / "fp32", 2));
  GanRun run = tiny_run(images, dir / "bf16", 2);
  run.config.precision = "bf16";
  GanResult bf16 = train_gan(run);
  // Same seed, same data: the losses agree to bf16's precision (8 mantissa bits) but not exactly.
  EXPECT_NE(bf16.loss_g, fp32.loss_g);
  EXPECT_NEAR(bf16.loss_g, fp32.loss_g, 0.05 * std::abs(fp32.loss_g));
  EXPECT_NEAR(bf16.loss_d, fp32.loss_d, 0.05 * std::abs(fp32.loss_d));
  // The weights stay fp32.
  core::Checkpoint state = core::Checkpoint::load(dir / "bf16/checkpoints/step-00000002.safetensors", kGanStateKind);
  EXPECT_EQ(state.tensor("G.synthesis.b16.conv1.weight").scalar_type(), torch::kFloat32);

  GanConfig config;
  config.precision = "fp16";
  try {
    config.validate();
    FAIL() << "no error";
  } catch (const core::ConfigError& e) {
    EXPECT_STREQ(e.what(), "precision=fp16 must be fp32 or bf16");
  }
}

// square_images with a "colour" label per image (red, green or blue: the square's colour).
LabelledImages labelled_squares(int64_t count) {
  LabelledImages images = test::square_images(count, 16, 1);
  for (int64_t i = 0; i < count; ++i) {
    at::Tensor rgb = images.pixels[i].to(torch::kFloat).amax({1, 2});  // [3]
    const int64_t top = rgb.argmax().item<int64_t>();
    images.labels[size_t(i)] = core::Json{{"colour", top == 0 ? "red" : top == 1 ? "green" : "blue"}};
  }
  return images;
}

TEST(GanTrainer, ConditionalRunStoresItsVocabularyAndResumesExactly) {
  TempDir dir;
  LabelledImages images = labelled_squares(32);
  GanRun run = tiny_run(images, dir / "straight", 4);
  run.config.labels = {"colour"};
  run.config.mapping_layers = 2;
  train_gan(run);
  gen::Generator g = gen::load_generator(dir / "straight/generator.safetensors");
  ASSERT_EQ(g->config().labels.size(), 1u);
  EXPECT_EQ(g->config().labels[0].name, "colour");
  EXPECT_EQ(g->config().labels[0].values, (std::vector<std::string>{"blue", "green", "red"}));
  EXPECT_EQ(g->config().mapping_layers, 2);
  core::Checkpoint state = core::Checkpoint::load(dir / "straight/checkpoints/step-00000004.safetensors", kGanStateKind);
  for (const char* name : {"G.mapping.embed.weight", "D.mapping.embed.weight", "D.mapping.fc1.weight",
                           "optim.D.mapping.embed.weight.exp_avg"}) {
    EXPECT_TRUE(state.file().contains(name)) << name;
  }
  EXPECT_EQ(state.tensor("D.b4.out.weight").size(0), 32);  // cmap_dim: the channels at 4x4
  // Samples of a conditional generator: labels drawn with the latents, or given.
  at::Tensor a = sample_generator(*g, 4, 5), b = sample_generator(*g, 4, 5);
  EXPECT_TRUE(torch::equal(a, b));
  at::Tensor red = gen::one_hot_labels(g->config().labels, {{2}, {2}, {2}, {2}});
  at::Tensor blue = gen::one_hot_labels(g->config().labels, {{0}, {0}, {0}, {0}});
  EXPECT_FALSE(torch::equal(sample_generator(*g, 4, 5, 16, red), sample_generator(*g, 4, 5, 16, blue)));
  std::vector<core::Json> straight = read_metrics(dir / "straight/metrics.jsonl");

  GanRun first = tiny_run(images, dir / "resumed", 3);
  first.config.labels = {"colour"};
  first.config.mapping_layers = 2;
  train_gan(first);
  GanRun again = first;
  again.config.steps = 4;
  again.resume = "auto";
  train_gan(again);
  std::vector<core::Json> resumed = read_metrics(dir / "resumed/metrics.jsonl");
  ASSERT_EQ(resumed.size(), straight.size());
  for (size_t i = 0; i < straight.size(); ++i) {
    EXPECT_EQ(resumed[i]["loss_G"].get<double>(), straight[i]["loss_G"].get<double>()) << "step " << i + 1;
    EXPECT_EQ(resumed[i]["loss_D"].get<double>(), straight[i]["loss_D"].get<double>()) << "step " << i + 1;
  }

  // Data without the attribute is named; a changed vocabulary is refused on resume.
  GanRun missing = tiny_run(images, dir / "missing", 1);
  missing.config.labels = {"class"};
  try {
    train_gan(missing);
    FAIL() << "no error";
  } catch (const core::Error& e) {
    EXPECT_EQ(std::string(e.what()), "labels: image square#0 has no \"class\" label (conditioning needs it on every image)");
  }
  LabelledImages two = labelled_squares(32);
  for (auto& labels : two.labels) {
    if (labels["colour"] == "blue") labels["colour"] = "green";
  }
  GanRun changed = again;
  changed.images = &two;
  changed.config.steps = 5;
  try {
    train_gan(changed);
    FAIL() << "no error";
  } catch (const core::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("the data's label vocabulary (colour=green|red) differs from the checkpoint's"),
              std::string::npos)
        << e.what();
  }
}

// Classifier guidance: heads matched by attribute and value name, the cross-entropy of the
// requested values, the errors, and a run that logs it.
gen::OracleConfig guide_config(std::vector<gen::OracleAttribute> attributes) {
  gen::OracleConfig config;
  config.resolution = 16;
  config.width = 4;
  config.stages = 2;
  config.attributes = std::move(attributes);
  return config;
}

const std::vector<gen::LabelAttribute> kGuideVocabulary = {
    {"class", {"a", "b"}}, {"colour", {"blue", "green", "red"}}, {"texture", {"plain", "striped"}}};

TEST(GanGuide, MatchesHeadsByAttributeAndValueName) {
  const gen::OracleConfig guide = guide_config({{"colour", {"red", "white", "green", "blue"}}, {"class", {"b", "a", "c"}}});
  std::vector<std::string> unread;
  const std::vector<GuidedAttribute> guided = match_guide_heads(kGuideVocabulary, guide, "guide.safetensors", &unread);
  ASSERT_EQ(guided.size(), 2u);
  EXPECT_EQ(guided[0].name, "class");
  EXPECT_EQ(guided[0].offset, 0);
  EXPECT_EQ(guided[0].guide_index, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(guided[1].name, "colour");
  EXPECT_EQ(guided[1].offset, 2);
  EXPECT_EQ(guided[1].guide_index, (std::vector<int64_t>{3, 2, 0}));
  EXPECT_EQ(unread, (std::vector<std::string>{"texture"}));

  EXPECT_EQ(test::error_text<core::ConfigError>([] {
              match_guide_heads(kGuideVocabulary, guide_config({{"colour", {"red", "blue"}}}), "g.safetensors");
            }),
            "guide_classifier g.safetensors: its \"colour\" head does not read green (it reads red, blue)");
  EXPECT_EQ(test::error_text<core::ConfigError>([] {
              match_guide_heads(kGuideVocabulary, guide_config({{"size", {"small", "large"}}}), "g.safetensors");
            }),
            "guide_classifier g.safetensors: it reads none of the generator's label attributes "
            "(class=a|b; colour=blue|green|red; texture=plain|striped); its heads: size");
}

TEST(GanGuide, CrossEntropyOfTheRequestedValues) {
  const gen::OracleConfig guide = guide_config({{"colour", {"red", "white", "green", "blue"}}, {"class", {"b", "a", "c"}}});
  const std::vector<GuidedAttribute> guided = match_guide_heads(kGuideVocabulary, guide, "guide.safetensors");
  // Image 0 asks for class b, colour green, texture plain; image 1 for class a, colour red, striped.
  const at::Tensor c = gen::one_hot_labels(kGuideVocabulary, {{1, 1, 0}, {0, 2, 1}});
  std::map<std::string, at::Tensor> logits;
  // colour: image 0 uniform over 4 (ln 4 whatever it asks); image 1 gives red 3/6 (asked: ln 2).
  logits["colour"] = torch::tensor({{0.0, 0.0, 0.0, 0.0}, {std::log(3.0), 0.0, 0.0, 0.0}});
  // class: image 0 gives b 2/4 (asked: ln 2); image 1 uniform over 3 (ln 3).
  logits["class"] = torch::tensor({{std::log(2.0), 0.0, 0.0}, {0.0, 0.0, 0.0}});
  const double expected = (std::log(4.0) + std::log(2.0)) / 2 + (std::log(2.0) + std::log(3.0)) / 2;
  EXPECT_NEAR(guide_cross_entropy(logits, c, guided).item<double>(), expected, 1e-6);
  // Asking image 1 for blue instead: its colour term becomes ln 6.
  const at::Tensor blue = gen::one_hot_labels(kGuideVocabulary, {{1, 1, 0}, {0, 0, 1}});
  EXPECT_NEAR(guide_cross_entropy(logits, blue, guided).item<double>(),
              (std::log(4.0) + std::log(6.0)) / 2 + (std::log(2.0) + std::log(3.0)) / 2, 1e-6);
}

TEST(GanTrainer, GuideClassifierJoinsTheGeneratorLoss) {
  TempDir dir;
  LabelledImages images = labelled_squares(32);
  torch::manual_seed(1);
  gen::AttributeOracle guide(guide_config({{"colour", {"red", "green", "blue"}}}));
  gen::save_oracle(dir / "guide.safetensors", *guide);

  GanRun run = tiny_run(images, dir / "guided", 2);
  run.config.labels = {"colour"};
  run.config.mapping_layers = 2;
  run.config.guide_classifier = (dir / "guide.safetensors").string();
  run.config.guide_weight = 0.5;
  train_gan(run);
  const std::vector<core::Json> records = read_metrics(dir / "guided/metrics.jsonl");
  ASSERT_EQ(records.size(), 2u);
  for (const core::Json& record : records) {
    ASSERT_TRUE(record.contains("loss_guide")) << record.dump();
    // A random 3-way classifier: near ln 3 per image.
    EXPECT_GT(record["loss_guide"].get<double>(), 0.5);
    EXPECT_LT(record["loss_guide"].get<double>(), 3.0);
  }
  // The run's settings record the guide.
  const core::Json config = core::read_json_file(dir / "guided/config.json");
  EXPECT_EQ(config["run"]["guide_classifier"], (dir / "guide.safetensors").string());

  GanRun unconditional = tiny_run(images, dir / "unconditional", 1);
  unconditional.config.guide_classifier = (dir / "guide.safetensors").string();
  EXPECT_EQ(test::error_text<core::ConfigError>([&] { train_gan(unconditional); }),
            "guide_classifier needs a conditional generator: its loss compares what G draws with the requested labels "
            "(give labels, --condition)");
}

TEST(GanConfig, ResolvesTheAutomaticValues) {
  GanConfig config;
  config.preset = "stylegan2-tiny";
  config.resolution = 16;
  config.batch = 8;
  config.resolve();
  EXPECT_DOUBLE_EQ(config.r1_gamma, 0.0002 * 256 / 8);
  EXPECT_DOUBLE_EQ(config.ema_kimg, 2.5);
  config.batch = 6;
  try {
    config.validate();
    FAIL() << "no error";
  } catch (const core::ConfigError& e) {
    EXPECT_STREQ(e.what(), "batch=6 must be a multiple of 4 (the minibatch-std group)");
  }
}

}  // namespace
}  // namespace hdv::train
