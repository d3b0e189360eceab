// Image I/O: PNG round trips are exact, JPEG/BMP decode, bad files give clear errors.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <stb_image_write.h>

#include "core/error.h"
#include "core/image_io.h"
#include "test_support.h"
#include "tests/test_paths.h"

namespace hdv::core {
namespace {

using test::TempDir;

// A [C, H, W] image whose values are exact multiples of 1/127.5 (so uint8 conversion is exact).
at::Tensor gradient_image(int64_t channels, int64_t height, int64_t width) {
  at::Tensor levels = torch::arange(channels * height * width, torch::kInt64).remainder(256).reshape({channels, height, width});
  return levels.to(torch::kFloat32).div(127.5).sub(1.0);
}

TEST(ImageIo, PngRoundTripIsExactForRgbGreyAndRgba) {
  TempDir dir;
  for (int64_t channels : {1, 3, 4}) {
    at::Tensor image = gradient_image(channels, 17, 23);
    auto path = dir / ("img" + std::to_string(channels) + ".png");
    save_png(path, image);
    at::Tensor back = load_image(path, static_cast<int>(channels));
    ASSERT_EQ(back.sizes(), image.sizes()) << channels;
    EXPECT_LT((back - image).abs().max().item<float>(), 1e-6) << channels;
  }
}

TEST(ImageIo, ValuesOutsideTheRangeAreClamped) {
  TempDir dir;
  at::Tensor image = torch::tensor({-3.0f, -1.0f, 0.0f, 1.0f, 5.0f}).reshape({1, 1, 5});
  save_png(dir / "c.png", image);
  at::Tensor back = load_image(dir / "c.png", 1);
  EXPECT_FLOAT_EQ(back[0][0][0].item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(back[0][0][4].item<float>(), 1.0f);
  EXPECT_NEAR(back[0][0][2].item<float>(), 0.0f, 1.0f / 127.5f);
}

TEST(ImageIo, GreyFileLoadsAsRgbWithEqualChannels) {
  TempDir dir;
  save_png(dir / "g.png", gradient_image(1, 5, 6));
  at::Tensor rgb = load_image(dir / "g.png", 3);
  ASSERT_EQ(rgb.sizes(), (std::vector<int64_t>{3, 5, 6}));
  EXPECT_TRUE(torch::equal(rgb[0], rgb[2]));
}

TEST(ImageIo, ReadsJpegAndBmp) {
  TempDir dir;
  std::vector<unsigned char> rgb(20 * 30 * 3);
  for (size_t i = 0; i < rgb.size(); i += 3) {
    rgb[i] = 200;
    rgb[i + 1] = 120;
    rgb[i + 2] = 40;
  }
  ASSERT_NE(stbi_write_jpg((dir / "a.jpg").c_str(), 30, 20, 3, rgb.data(), 95), 0);
  ASSERT_NE(stbi_write_bmp((dir / "a.bmp").c_str(), 30, 20, 3, rgb.data()), 0);
  for (const char* name : {"a.jpg", "a.bmp"}) {
    at::Tensor image = load_image(dir / name);
    ASSERT_EQ(image.sizes(), (std::vector<int64_t>{3, 20, 30})) << name;
    at::Tensor mean = image.mean({1, 2}).add(1).mul(127.5);  // back to 0..255, RGB order
    EXPECT_NEAR(mean[0].item<float>(), 200, 3) << name;
    EXPECT_NEAR(mean[1].item<float>(), 120, 3) << name;
    EXPECT_NEAR(mean[2].item<float>(), 40, 3) << name;
  }
}

TEST(ImageIo, CorruptFileNamesTheFile) {
  TempDir dir;
  test::write_bytes(dir / "bad.png", "\x89PNG\r\n\x1a\n this is not really a png");
  HDV_EXPECT_THROW_MSG(load_image(dir / "bad.png"), FormatError, "bad.png: cannot decode image");
  test::write_bytes(dir / "empty.jpg", "");
  HDV_EXPECT_THROW_MSG(load_image(dir / "empty.jpg"), FormatError, "empty.jpg: cannot decode image (the file is empty)");
  HDV_EXPECT_THROW_MSG(load_image(dir / "missing.png"), IoError, "missing.png: no such file");
}

TEST(ImageIo, SaveRejectsWrongShapesAndLeavesNoFile) {
  TempDir dir;
  HDV_EXPECT_THROW_MSG(save_png(dir / "x.png", torch::zeros({5, 4, 4})), Error,
                       "x.png: image: dim 0 got 5, expected 1, 3 or 4 channels");
  HDV_EXPECT_THROW_MSG(save_png(dir / "x.png", torch::zeros({4, 4})), Error, "expected 3 dims [C, H, W], got 2 dims");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

// Fuzz regression (tests/fuzz/regressions/image/): a 58-byte BMP whose header claims 512 x 131072
// pixels made decode_image allocate over 2.5 GB of tensors. It is refused before decoding.
TEST(ImageIo, RefusesImagesAboveThePixelLimitBeforeDecoding) {
  const std::string path = HDV_TEST_SOURCE_DIR "/fuzz/regressions/image/bmp-512x131072-in-58-bytes.bmp";
  EXPECT_EQ(test::error_text<FormatError>([&] { load_image(path); }),
            path + ": image of 512 x 131072 pixels exceeds the limit of 16777216 pixels (4096 x 4096)");
}

}  // namespace
}  // namespace hdv::core
