// hdvila-studio driven by --script in a real window under Xvfb (label gui): a scripted edit
// saves exactly the image `hdvila-generate --mode edit` makes for the same models and inputs,
// runtime errors are shown in the window while the script goes on, and malformed scripts are
// rejected before a window opens.
//
// Models: random, generated once per run by tests/app/make_studio_models.sh (a 16-px generator,
// an hdvila-tiny VL model and its direction table). With random models the direction "a red
// shirt" points nowhere in particular, so the test cannot ask for "more red"; it checks instead
// that the edit changed the image by more than a threshold AND that the studio's PNG equals the
// CLI's: the studio ran the real global-direction edit (same latent, prompt, derived neutral, α
// and β), not a stand-in.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <filesystem>

#include <fstream>

#include "core/image_io.h"
#include "../core/test_support.h"
#include "tests/test_paths.h"

namespace hdv::app {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

constexpr int kWidth = 960, kHeight = 600;

class StudioScript : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // ctest writes them once per run (app.studio_models); a direct run writes its own.
    const fs::path shared = fs::path(HDV_TEST_FIXTURES_DIR) / "studio-models";
    if (fs::exists(shared / "directions.safetensors")) {
      models_ = new fs::path(shared);
      owned_ = false;
      return;
    }
    models_ = new fs::path(fs::temp_directory_path() / ("hdv-studio-models-" + std::to_string(::getpid())));
    owned_ = true;
    fs::remove_all(*models_);
    std::string output;
    const int status = test::run_command("bash " + std::string(HDV_TEST_SOURCE_DIR) + "/app/make_studio_models.sh " +
                                             models_->string() + " " + HDV_TEST_BIN_DIR + " " + HDV_TEST_PYTHON,
                                         &output);
    ASSERT_EQ(status, 0) << output;
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    if (owned_) fs::remove_all(*models_, ignored);
    delete models_;
  }
  static std::string model(const char* name) { return (*models_ / name).string(); }
  static std::string load_models_action() {
    return R"({"action": "load_models", "generator": ")" + model("generator.safetensors") + R"(", "vl_model": ")" +
           model("vl-model.safetensors") + R"(", "directions": ")" + model("directions.safetensors") + R"("})";
  }

  // Writes `actions` (JSON text) to a script file and runs the studio on it.
  int run_script(const TempDir& dir, const std::string& actions, std::string* output) {
    const fs::path script = dir / "actions.json";
    std::ofstream(script) << actions;
    const std::string command = "xvfb-run -a -s '-screen 0 1280x1024x24' " + std::string(HDV_TEST_BIN_DIR) +
                                "/hdvila-studio --threads 1 --width " + std::to_string(kWidth) + " --height " +
                                std::to_string(kHeight) + " --script " + script.string();
    return test::run_command(command, output);
  }

  static fs::path* models_;
  static bool owned_;
};

fs::path* StudioScript::models_ = nullptr;
bool StudioScript::owned_ = false;

float region_std(const at::Tensor& image, int x0, int y0, int x1, int y1) {
  return image.narrow(1, y0, y1 - y0).narrow(2, x0, x1 - x0).std().item<float>();
}

TEST_F(StudioScript, EditSavesTheImageHdvilaGenerateMakes) {
  TempDir dir;
  const std::string d = dir.path().string();
  std::string output;
  ASSERT_EQ(run_script(dir,
                       "[" + load_models_action() + R"(,
                        {"action": "sample", "seed": 3},
                        {"action": "save_image", "path": ")" + d + R"(/source.png"},
                        {"action": "set_prompt", "target": "a red shirt"},
                        {"action": "set_slider", "name": "strength", "value": 4.1},
                        {"action": "set_slider", "name": "beta", "value": 0.15},
                        {"action": "press", "button": "edit"},
                        {"action": "wait_idle", "timeout_s": 120},
                        {"action": "save_image", "path": ")" + d + R"(/edited.png"},
                        {"action": "screenshot", "path": ")" + d + R"(/shot.png"}])",
                       &output),
            0)
      << output;
  EXPECT_NE(output.find("edit \"a red shirt\" (neutral \"a shirt\") alpha 4.10 beta 0.150"), std::string::npos) << output;
  // The same edit by the batch CLI (ψ 0.7, α 4.1, β 0.15 are both programs' defaults).
  ASSERT_EQ(test::run_command(std::string(HDV_TEST_BIN_DIR) + "/hdvila-generate --threads 1 --mode edit --seed 3 " +
                                  "--prompt 'a red shirt' --generator " + model("generator.safetensors") +
                                  " --vl-model " + model("vl-model.safetensors") + " --directions " +
                                  model("directions.safetensors") + " --out " + d + "/cli --quiet",
                              &output),
            0)
      << output;
  const at::Tensor source = core::load_image(dir / "source.png");
  const at::Tensor edited = core::load_image(dir / "edited.png");
  ASSERT_EQ(edited.sizes(), (std::vector<int64_t>{3, 16, 16}));
  // The edit changed the picture (mean |Δ| over 2% of the [-1, 1] range)...
  EXPECT_GT((edited - source).abs().mean().item<float>(), 0.04f);
  // ...and the studio's source and edit are the CLI's, to the 8-bit level.
  EXPECT_LE((source - core::load_image(dir / "cli" / "output-source.png")).abs().max().item<float>(), 2.0f / 255.0f);
  EXPECT_LE((edited - core::load_image(dir / "cli" / "output.png")).abs().max().item<float>(), 2.0f / 255.0f);

  // The screenshot shows the panels: the sidebar and the image area are far from uniform, and
  // the image area shows the source | edited split, scaled up.
  const at::Tensor shot = core::load_image(dir / "shot.png");
  ASSERT_EQ(shot.sizes(), (std::vector<int64_t>{3, kHeight, kWidth}));
  EXPECT_GT(region_std(shot, 0, 0, 380, kHeight), 0.05f);
  EXPECT_GT(region_std(shot, 420, 80, kWidth, kHeight), 0.05f);
}

// A StyleGAN2 generator from another project (a conditional stylegan2-ada-pytorch pickle with
// random weights, tests/generation/make_stylegan_pkl_fixture.py), imported by `hdvila-train import
// --stylegan-pkl`, loads in the studio and samples the image `hdvila-generate` samples.
TEST_F(StudioScript, LoadsAnImportedStyleGANPickleAndSamplesWhatTheCLISamples) {
  TempDir dir;
  const std::string d = dir.path().string();
  std::string output;
  ASSERT_EQ(test::run_command(std::string(HDV_TEST_PYTHON) + " " + HDV_TEST_SOURCE_DIR +
                                  "/generation/make_stylegan_pkl_fixture.py --out " + d + "/pkl",
                              &output),
            0)
      << output;
  ASSERT_EQ(test::run_command(std::string(HDV_TEST_BIN_DIR) + "/hdvila-train import --stylegan-pkl " + d +
                                  "/pkl/nvlabs-small.pkl --python " + HDV_TEST_PYTHON + " --out " + d +
                                  "/imported.safetensors --quiet",
                              &output),
            0)
      << output;
  ASSERT_EQ(run_script(dir,
                       R"([{"action": "load_models", "generator": ")" + d + R"(/imported.safetensors"},
                        {"action": "sample", "seed": 5},
                        {"action": "wait_idle", "timeout_s": 60},
                        {"action": "save_image", "path": ")" + d + R"(/studio.png"}])",
                       &output),
            0)
      << output;
  ASSERT_EQ(test::run_command(std::string(HDV_TEST_BIN_DIR) + "/hdvila-generate --threads 1 --mode sample --seed 5 " +
                                  "--generator " + d + "/imported.safetensors --out " + d + "/cli --quiet",
                              &output),
            0)
      << output;
  const at::Tensor studio = core::load_image(dir / "studio.png");
  ASSERT_EQ(studio.sizes(), (std::vector<int64_t>{3, 32, 32}));
  EXPECT_GT(studio.std().item<float>(), 0.05f);  // a picture, not a flat fill
  EXPECT_LE((studio - core::load_image(dir / "cli" / "output.png")).abs().max().item<float>(), 2.0f / 255.0f);
}

// The 1024-px workflow: a config-F StyleGAN2 (NVlabs pickle with random weights, 30 M parameters)
// imported by `hdvila-train import --stylegan-pkl` loads in the studio, which samples at 1024 px
// the image `hdvila-generate` samples.
TEST_F(StudioScript, SamplesAnImportedConfigFGeneratorAt1024PixelsLikeTheCLI) {
  TempDir dir;
  const std::string d = dir.path().string();
  std::string output;
  ASSERT_EQ(test::run_command(std::string(HDV_TEST_PYTHON) + " " + HDV_TEST_SOURCE_DIR +
                                  "/generation/make_stylegan_pkl_fixture.py --config-f --out " + d + "/pkl",
                              &output),
            0)
      << output;
  ASSERT_EQ(test::run_command(std::string(HDV_TEST_BIN_DIR) + "/hdvila-train import --stylegan-pkl " + d +
                                  "/pkl/nvlabs-f1024.pkl --python " + HDV_TEST_PYTHON + " --out " + d +
                                  "/f.safetensors --quiet",
                              &output),
            0)
      << output;
  std::filesystem::remove_all(dir / "pkl");  // 260 MB of pickles and references
  ASSERT_EQ(run_script(dir,
                       R"([{"action": "load_models", "generator": ")" + d + R"(/f.safetensors"},
                        {"action": "sample", "seed": 5},
                        {"action": "wait_idle", "timeout_s": 300},
                        {"action": "save_image", "path": ")" + d + R"(/studio.png"}])",
                       &output),
            0)
      << output;
  ASSERT_EQ(test::run_command(std::string(HDV_TEST_BIN_DIR) + "/hdvila-generate --threads 1 --mode sample --seed 5 " +
                                  "--generator " + d + "/f.safetensors --out " + d + "/cli --quiet",
                              &output),
            0)
      << output;
  const at::Tensor studio = core::load_image(dir / "studio.png");
  ASSERT_EQ(studio.sizes(), (std::vector<int64_t>{3, 1024, 1024}));
  EXPECT_GT(studio.std().item<float>(), 0.05f);
  EXPECT_LE((studio - core::load_image(dir / "cli" / "output.png")).abs().max().item<float>(), 2.0f / 255.0f);
}

// CLIP as the guide (a small random OpenCLIP model, tests/models/make_clip_fixture.py, imported by
// `hdvila-train import --clip`, with a direction table measured with it) loads in the studio's VL
// model slot, and a scripted edit saves the image `hdvila-generate --mode edit` makes with it.
TEST_F(StudioScript, EditsWithAnImportedClipLikeTheCLI) {
  TempDir dir;
  const std::string d = dir.path().string();
  const std::string bin = HDV_TEST_BIN_DIR;
  std::string output;
  ASSERT_EQ(test::run_command(std::string(HDV_TEST_PYTHON) + " " + HDV_TEST_SOURCE_DIR +
                                  "/models/make_clip_fixture.py --cases small --out " + d + "/fx",
                              &output),
            0)
      << output;
  ASSERT_EQ(test::run_command(bin + "/hdvila-train import --clip " + d + "/fx/small/weights.safetensors " +
                                  "--clip-quick-gelu --python " + HDV_TEST_PYTHON + " --out " + d + "/clip.safetensors --quiet",
                              &output),
            0)
      << output;
  ASSERT_EQ(test::run_command(bin + "/hdvila-train directions --generator " + model("generator.safetensors") +
                                  " --vl-model " + d + "/clip.safetensors --out " + d +
                                  "/clip-directions.safetensors --images 2 --stats-samples 64 --quiet",
                              &output),
            0)
      << output;
  ASSERT_EQ(run_script(dir,
                       R"([{"action": "load_models", "generator": ")" + model("generator.safetensors") +
                           R"(", "vl_model": ")" + d + R"(/clip.safetensors", "directions": ")" + d +
                           R"(/clip-directions.safetensors"},
                        {"action": "sample", "seed": 3},
                        {"action": "set_prompt", "target": "a red shirt"},
                        {"action": "press", "button": "edit"},
                        {"action": "wait_idle", "timeout_s": 120},
                        {"action": "save_image", "path": ")" + d + R"(/edited.png"}])",
                       &output),
            0)
      << output;
  ASSERT_EQ(test::run_command(bin + "/hdvila-generate --threads 1 --mode edit --seed 3 --prompt 'a red shirt' " +
                                  "--generator " + model("generator.safetensors") + " --vl-model " + d +
                                  "/clip.safetensors --directions " + d + "/clip-directions.safetensors --out " + d +
                                  "/cli --quiet",
                              &output),
            0)
      << output;
  const at::Tensor edited = core::load_image(dir / "edited.png");
  ASSERT_EQ(edited.sizes(), (std::vector<int64_t>{3, 16, 16}));
  EXPECT_LE((edited - core::load_image(dir / "cli" / "output.png")).abs().max().item<float>(), 2.0f / 255.0f);
}

TEST_F(StudioScript, RuntimeErrorsAreShownAndTheScriptGoesOn) {
  TempDir dir;
  const std::string d = dir.path().string();
  test::write_bytes(dir / "bad.png", "\x89PNG\r\n\x1a\n definitely not an image");
  std::string output;
  ASSERT_EQ(run_script(dir,
                       R"([{"action": "open", "path": ")" + d + R"(/bad.png"},
                        {"action": "expect_error", "contains": "bad.png: cannot decode image"},
                        {"action": "load_models", "generator": ")" + model("vl-model.safetensors") + R"("},
                        {"action": "expect_error", "contains": "vl-model.safetensors: checkpoint kind is \"vl-model\", expected \"generator\""},
                        {"action": "sample", "seed": 1},
                        {"action": "expect_error", "contains": "sample: no generator loaded"},
                        {"action": "screenshot", "path": ")" + d + R"(/shot.png"},
                        {"action": "quit"},
                        {"action": "open", "path": "never-run.png"}])",
                       &output),
            0)
      << output;
  EXPECT_TRUE(fs::exists(dir / "shot.png"));
  EXPECT_EQ(output.find("never-run.png"), std::string::npos) << output;
  // A failed expectation: exit 1, naming the action.
  ASSERT_EQ(run_script(dir, R"([{"action": "expect_error", "contains": "anything"}])", &output), 1) << output;
  EXPECT_NE(output.find("actions.json[0] (expect_error): no error is shown; expected one containing \"anything\""),
            std::string::npos)
      << output;
}

TEST_F(StudioScript, MalformedScriptsExitWithUsageErrors) {
  TempDir dir;
  std::string output;
  ASSERT_EQ(run_script(dir, R"([{"action": "quit"}, {"action": "fly"}])", &output), 2) << output;
  EXPECT_NE(output.find("error: " + (dir / "actions.json").string() + "[1]: unknown action \"fly\" (known: open, "),
            std::string::npos)
      << output;
  ASSERT_EQ(run_script(dir, R"([{"action": "set_slider", "name": "strength", "value": 30}])", &output), 2) << output;
  EXPECT_NE(output.find("actions.json[0] (set_slider): field \"value\": strength must be in [-15, 25], got 30"),
            std::string::npos)
      << output;
}


// Undo / redo walk the history in the real window, and a chosen super-resolution candidate is
// consistent with its input: down-scaled ×4 it gives back the down-scaled current image (the
// pipeline back-projects every candidate onto its input; the studio feeds it the image as shown).
TEST_F(StudioScript, UndoRedoAndSuperResolution) {
  TempDir dir;
  const std::string d = dir.path().string();
  std::string output;
  ASSERT_EQ(run_script(dir,
                       "[" + load_models_action() + R"(,
                        {"action": "sample", "seed": 3},
                        {"action": "save_image", "path": ")" + d + R"(/sample.png"},
                        {"action": "set_prompt", "target": "a red shirt"},
                        {"action": "press", "button": "edit"},
                        {"action": "save_image", "path": ")" + d + R"(/edited.png"},
                        {"action": "press", "button": "undo"},
                        {"action": "save_image", "path": ")" + d + R"(/undone.png"},
                        {"action": "press", "button": "redo"},
                        {"action": "save_image", "path": ")" + d + R"(/redone.png"},
                        {"action": "set_slider", "name": "sr_candidates", "value": 2},
                        {"action": "set_slider", "name": "sr_steps", "value": 5},
                        {"action": "press", "button": "super_resolve"},
                        {"action": "press", "button": "use_candidate"},
                        {"action": "save_image", "path": ")" + d + R"(/sr.png"},
                        {"action": "screenshot", "path": ")" + d + R"(/shot.png"}])",
                       &output),
            0)
      << output;
  const at::Tensor sample = core::load_image(dir / "sample.png");
  const at::Tensor edited = core::load_image(dir / "edited.png");
  EXPECT_GT((edited - sample).abs().mean().item<float>(), 0.04f);
  EXPECT_TRUE(torch::equal(core::load_image(dir / "undone.png"), sample));
  EXPECT_TRUE(torch::equal(core::load_image(dir / "redone.png"), edited));
  const at::Tensor sr = core::load_image(dir / "sr.png");
  ASSERT_EQ(sr.sizes(), (std::vector<int64_t>{3, 16, 16}));
  const auto down = [](const at::Tensor& image) { return torch::avg_pool2d(image.unsqueeze(0), 4); };
  EXPECT_LT((down(sr) - down(edited)).abs().max().item<float>(), 0.02f);  // 8-bit rounding of both PNGs
  EXPECT_GT((sr - edited).abs().mean().item<float>(), 0.01f);  // new detail, not a copy
  EXPECT_NE(output.find("super-resolution x4 candidate 1"), std::string::npos) << output;
}

// Files dropped on the window: checkpoints fill the Models slot of their kind, images open,
// a corrupt one is an error in the window.
TEST_F(StudioScript, DroppedFilesFillModelSlotsOrOpen) {
  TempDir dir;
  const std::string d = dir.path().string();
  test::write_bytes(dir / "bad.png", "not an image");
  at::Tensor grey = torch::zeros({3, 8, 8});
  core::save_png(dir / "grey.png", grey);
  std::string output;
  ASSERT_EQ(run_script(dir,
                       R"([{"action": "drop", "paths": [")" + model("vl-model.safetensors") + R"(", ")" +
                           model("directions.safetensors") + R"(", ")" + model("generator.safetensors") + R"(", ")" + d +
                           R"(/bad.png"]},
                        {"action": "expect_error", "contains": "bad.png: cannot decode image"},
                        {"action": "press", "button": "load_models"},
                        {"action": "drop", "paths": [")" + d + R"(/grey.png"]},
                        {"action": "save_image", "path": ")" + d + R"(/opened.png"}])",
                       &output),
            0)
      << output;
  EXPECT_NE(output.find("VL model: vl-model.safetensors (press Load models)"), std::string::npos) << output;
  EXPECT_NE(output.find("Directions: directions.safetensors (press Load models)"), std::string::npos) << output;
  EXPECT_NE(output.find("models loaded: 16 px generator, VL model, directions"), std::string::npos) << output;
  EXPECT_TRUE(torch::equal(core::load_image(dir / "opened.png"), core::load_image(dir / "grey.png")));
}

// `hdvila-studio` without model flags loads the bundled defaults when they are there
// ($HDV_ASSETS/models/...), and starts with "not loaded" when they are not.
TEST_F(StudioScript, StartsWithTheDefaultModelsOrNotLoaded) {
  TempDir dir;
  fs::create_directories(dir / "assets" / "models");
  fs::create_directories(dir / "empty");
  for (const char* name : {"generator.safetensors", "vl-model.safetensors", "directions.safetensors"}) {
    fs::copy_file(*models_ / name, dir / "assets" / "models" / name);
  }
  const std::string studio = "xvfb-run -a -s '-screen 0 1280x1024x24' " + std::string(HDV_TEST_BIN_DIR) +
                             "/hdvila-studio --width " + std::to_string(kWidth) + " --height " + std::to_string(kHeight) +
                             " --frames 4 --screenshot ";
  std::string output;
  ASSERT_EQ(test::run_command("HDV_ASSETS=" + (dir / "assets").string() + " " + studio + (dir / "with.png").string(), &output), 0)
      << output;
  EXPECT_NE(output.find("models loaded: 16 px generator, VL model, directions"), std::string::npos) << output;
  ASSERT_EQ(test::run_command("HDV_ASSETS=" + (dir / "empty").string() + " " + studio + (dir / "without.png").string(), &output), 0)
      << output;
  EXPECT_NE(output.find("generator " + (dir / "empty" / "models" / "generator.safetensors").string() +
                        ": not found; no models loaded"),
            std::string::npos)
      << output;
  const at::Tensor shot = core::load_image(dir / "without.png");
  EXPECT_GT(region_std(shot, 0, 0, 380, kHeight), 0.05f);
}

}  // namespace
}  // namespace hdv::app
