// hdvila-studio in a real window under Xvfb (label gui): the screenshot shows the panels, a given
// image is drawn, and bad inputs are reported in the window's log while the studio keeps running.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include "core/checkpoint.h"
#include "core/image_io.h"
#include "../core/test_support.h"
#include "tests/test_paths.h"

namespace hdv::app {
namespace {

using test::TempDir;

constexpr int kWidth = 960, kHeight = 600;

// Runs the studio headless in its own X server; returns the exit status, fills output.
int run_studio(const std::string& args, std::string* output) {
  std::string command = "xvfb-run -a -s '-screen 0 1280x1024x24' " + std::string(HDV_TEST_BIN_DIR) +
                        "/hdvila-studio --width " + std::to_string(kWidth) + " --height " + std::to_string(kHeight) +
                        " --frames 4 " + args;
  return test::run_command(command, output);
}

// Standard deviation of a region of a [3, H, W] image in [-1, 1].
float region_std(const at::Tensor& image, int x0, int y0, int x1, int y1) {
  return image.narrow(1, y0, y1 - y0).narrow(2, x0, x1 - x0).std().item<float>();
}

TEST(Studio, ScreenshotShowsSidebarPanelsAndImage) {
  TempDir dir;
  // A solid orange image: it must appear in the image area.
  at::Tensor orange = torch::stack({torch::full({48, 64}, 1.0f), torch::full({48, 64}, 0.3f), torch::full({48, 64}, -1.0f)});
  core::save_png(dir / "orange.png", orange);
  std::string output;
  ASSERT_EQ(run_studio("--image " + (dir / "orange.png").string() + " --screenshot " + (dir / "shot.png").string(), &output), 0)
      << output;
  at::Tensor shot = core::load_image(dir / "shot.png");
  ASSERT_EQ(shot.sizes(), (std::vector<int64_t>{3, kHeight, kWidth}));
  // Sidebar (text, headers, separators) is far from uniform; so is the whole image area.
  EXPECT_GT(region_std(shot, 0, 0, 370, kHeight), 0.05f);
  EXPECT_GT(region_std(shot, 390, 0, kWidth, kHeight), 0.05f);
  // The image is scaled to fit the image area: its middle is orange.
  at::Tensor centre = shot.narrow(1, kHeight / 2 - 5, 10).narrow(2, (390 + kWidth) / 2 - 5, 10).mean({1, 2});
  EXPECT_NEAR(centre[0].item<float>(), 1.0f, 0.05f);
  EXPECT_NEAR(centre[1].item<float>(), 0.3f, 0.05f);
  EXPECT_NEAR(centre[2].item<float>(), -1.0f, 0.05f);
}

TEST(Studio, CorruptImageAndWrongCheckpointKindAreReportedNotFatal) {
  TempDir dir;
  test::write_bytes(dir / "bad.png", "\x89PNG\r\n\x1a\n definitely not an image");
  core::CheckpointInfo info;
  info.kind = "oracle";
  core::save_checkpoint(dir / "oracle.safetensors", {{"w", torch::zeros({2})}}, info);
  std::string output;
  ASSERT_EQ(run_studio("--image " + (dir / "bad.png").string() + " --generator " + (dir / "oracle.safetensors").string() +
                           " --screenshot " + (dir / "shot.png").string(),
                       &output),
            0)
      << output;
  EXPECT_NE(output.find("bad.png: cannot decode image"), std::string::npos) << output;
  EXPECT_NE(output.find("oracle.safetensors: checkpoint kind is \"oracle\", expected \"generator\""), std::string::npos)
      << output;
  EXPECT_TRUE(std::filesystem::exists(dir / "shot.png"));
}

// --settings: the sidebar width is read from the file (the image area starts where it ends) and
// the file is written back on exit; a bad settings file is reported and the defaults are used.
TEST(Studio, SettingsFileIsReadAndWritten) {
  TempDir dir;
  test::write_bytes(dir / "studio.json", R"({"sidebar_width": 300, "last_folder": "/tmp"})");
  std::string output;
  ASSERT_EQ(run_studio("--settings " + (dir / "studio.json").string() + " --screenshot " + (dir / "shot.png").string(),
                       &output),
            0)
      << output;
  const std::string written = test::read_bytes(dir / "studio.json");
  EXPECT_NE(written.find("\"sidebar_width\": 300"), std::string::npos) << written;
  EXPECT_NE(written.find("\"last_folder\": \"/tmp\""), std::string::npos) << written;
  EXPECT_NE(written.find("\"window_width\": 960"), std::string::npos) << written;
  // The image area's title bar (ImGui's blue) begins at x = 300, not at the default 400.
  const at::Tensor shot = core::load_image(dir / "shot.png");
  const at::Tensor title = shot.narrow(1, 2, 12).narrow(2, 320, 60).mean({1, 2});
  EXPECT_GT(title[2].item<float>(), title[0].item<float>() + 0.1f) << title;

  test::write_bytes(dir / "bad.json", R"({"sidebar_width": "wide"})");
  ASSERT_EQ(run_studio("--settings " + (dir / "bad.json").string() + " --screenshot " + (dir / "shot2.png").string(),
                       &output),
            0)
      << output;
  EXPECT_NE(output.find("bad.json: key \"sidebar_width\": expected a number, got string \"wide\" (using the default settings)"),
            std::string::npos)
      << output;
}

TEST(Studio, BadFlagsExitWithUsageErrors) {
  std::string output;
  EXPECT_EQ(test::run_command(std::string(HDV_TEST_BIN_DIR) + "/hdvila-studio --frames 0", &output), 2);
  EXPECT_NE(output.find("error: --frames: expected integer > 0, got \"0\""), std::string::npos) << output;
}

}  // namespace
}  // namespace hdv::app
