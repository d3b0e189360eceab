// Still-image data (training/image_dataset.h): image folders are read recursively in sorted order
// with exact pixels and resized by area; unreadable files are skipped and counted up to 1 %;
// SynthVid keyframes come with their clip's labels line and equal the decoded frames; malformed
// labels name file:line; Fashion-MNIST garments become 3-channel images with their class; the
// output is the same for any number of decoding threads.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/config.h"
#include "core/error.h"
#include "core/image_io.h"
#include "core/video_io.h"
#include "tests/core/test_support.h"
#include "training/image_dataset.h"
#include "training/synthvid.h"

namespace hdv::train {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

// A [3, h, w] image of uint8 levels (start + i) % 256, exact in [-1, 1] floats.
at::Tensor level_image(int64_t h, int64_t w, int64_t start) {
  at::Tensor levels = torch::arange(3 * h * w, torch::kInt64).add(start).remainder(256).reshape({3, h, w});
  return levels.to(torch::kFloat).div(127.5).sub(1.0);
}
at::Tensor levels_of(const at::Tensor& image) { return image.add(1.0).mul(127.5).round().to(torch::kUInt8); }

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A small SynthVid train split, written once for the suite (8 clips of 8 frames at 32x32).
const fs::path& tiny_synthvid() {
  static const fs::path dir = [] {
    fs::path path = fs::temp_directory_path() / fmt::format("hdv-test-ImageDataset-synthvid-{}", ::getpid());
    fs::remove_all(path);
    SynthVidConfig config;
    config.seed = 5;
    config.splits = {"train"};
    config.train_clips = 8;
    config.size = 32;
    config.frames = 8;
    config.jobs = 2;
    write_synthvid(path, config);
    return path;
  }();
  return dir;
}

struct RemoveTinySynthVid : ::testing::Environment {
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(fs::temp_directory_path() / fmt::format("hdv-test-ImageDataset-synthvid-{}", ::getpid()), ignored);
  }
};
const auto* const kRemoveTinySynthVid = ::testing::AddGlobalTestEnvironment(new RemoveTinySynthVid);

TEST(ImageDataset, ReadsAFolderRecursivelyInSortedOrderWithExactPixels) {
  TempDir dir;
  fs::create_directories(dir / "sub");
  core::save_png(dir / "b.png", level_image(8, 8, 100));
  core::save_png(dir / "a.png", level_image(8, 8, 0));
  core::save_png(dir / "sub" / "c.png", level_image(8, 8, 200));
  test::write_bytes(dir / "notes.txt", "not an image");
  ImageSourceOptions options;
  options.path = dir.path();
  options.resolution = 8;
  options.jobs = 2;
  std::vector<int64_t> steps;
  LabelledImages images = load_images(options, [&](int64_t step, int64_t total, double) {
    EXPECT_EQ(total, 3);
    steps.push_back(step);
  });
  ASSERT_EQ(images.size(), 3);
  EXPECT_EQ(images.pixels.sizes(), (std::vector<int64_t>{3, 3, 8, 8}));
  EXPECT_EQ(images.pixels.scalar_type(), torch::kUInt8);
  EXPECT_EQ(images.sources, (std::vector<std::string>{(dir / "a.png").string(), (dir / "b.png").string(),
                                                      (dir / "sub" / "c.png").string()}));
  EXPECT_TRUE(torch::equal(images.pixels[0], levels_of(level_image(8, 8, 0))));
  EXPECT_TRUE(torch::equal(images.pixels[1], levels_of(level_image(8, 8, 100))));
  EXPECT_TRUE(torch::equal(images.pixels[2], levels_of(level_image(8, 8, 200))));
  EXPECT_EQ(images.skipped, 0);
  EXPECT_EQ(images.labels.size(), 3u);
  EXPECT_EQ(images.labels[0], core::Json::object());
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps.back(), 3);
}

TEST(ImageDataset, AFolderLabelsFileLabelsEveryImage) {
  TempDir dir;
  fs::create_directories(dir / "imgs/sub");
  core::save_png(dir / "imgs/a.png", level_image(4, 4, 0));
  core::save_png(dir / "imgs/sub/b.png", level_image(4, 4, 100));
  core::save_png(dir / "imgs/c.png", level_image(4, 4, 200));
  test::write_bytes(dir / "labels.jsonl",
                    "{\"image\": \"sub/b.png\", \"colour\": \"red\", \"class\": \"bag\"}\n"
                    "\n"
                    "{\"image\": \"a.png\", \"colour\": \"blue\", \"class\": \"bag\"}\n"
                    "{\"image\": \"./c.png\", \"colour\": \"red\", \"class\": \"shirt\"}\n");
  ImageSourceOptions options;
  options.path = dir / "imgs";
  options.resolution = 4;
  options.labels = dir / "labels.jsonl";
  LabelledImages images = load_images(options);
  ASSERT_EQ(images.size(), 3);
  EXPECT_EQ(images.labels[0], core::parse_json(R"({"colour": "blue", "class": "bag"})", "expected"));
  EXPECT_EQ(image_attribute(images.labels[2], "colour"), "red");
  EXPECT_EQ(image_attribute(images.labels[1], "size"), "");
  // The vocabulary: each attribute's values sorted; every image's indices.
  ImageLabelTable table = image_label_table(images, {"colour", "class"});
  ASSERT_EQ(table.vocabulary.size(), 2u);
  EXPECT_EQ(table.vocabulary[0].values, (std::vector<std::string>{"blue", "red"}));
  EXPECT_EQ(table.vocabulary[1].values, (std::vector<std::string>{"bag", "shirt"}));
  EXPECT_EQ(table.choices, (std::vector<std::vector<int64_t>>{{0, 0}, {1, 1}, {1, 0}}));  // a, c, sub/b
  try {
    image_label_table(images, {"size"});
    FAIL() << "no error";
  } catch (const core::Error& e) {
    EXPECT_EQ(std::string(e.what()), "labels: image " + (dir / "imgs/a.png").string() +
                                         " has no \"size\" label (conditioning needs it on every image)");
  }

  // An image without a line, a line without "image", a repeated image: named with file:line.
  test::write_bytes(dir / "short.jsonl", "{\"image\": \"a.png\", \"colour\": \"blue\"}\n");
  options.labels = dir / "short.jsonl";
  try {
    load_images(options);
    FAIL() << "no error";
  } catch (const core::FormatError& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "short.jsonl").string() + ": no line for image \"c.png\" (every image of " +
                                         (dir / "imgs").string() + " needs one)");
  }
  test::write_bytes(dir / "bad.jsonl", "{\"image\": \"a.png\", \"colour\": \"blue\"}\n{\"colour\": 3}\n");
  options.labels = dir / "bad.jsonl";
  try {
    load_images(options);
    FAIL() << "no error";
  } catch (const core::FormatError& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "bad.jsonl").string() + ":2: field \"image\": expected the image's path relative to " +
                                         (dir / "imgs").string() + ", got nothing");
  }
  test::write_bytes(dir / "twice.jsonl", "{\"image\": \"a.png\", \"colour\": \"blue\"}\n{\"image\": \"a.png\", \"colour\": \"red\"}\n");
  options.labels = dir / "twice.jsonl";
  try {
    load_images(options);
    FAIL() << "no error";
  } catch (const core::FormatError& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "twice.jsonl").string() + ":2: image \"a.png\" is labelled twice");
  }
}

TEST(ImageDataset, ShrinksByAreaAfterACentredSquareCrop) {
  TempDir dir;
  // 4 x 6: the centred 4 x 4 square is columns 1..4; each 2 x 2 block of it averages to one pixel.
  at::Tensor levels = torch::tensor({10, 20, 30, 50, 70, 90,   //
                                     10, 40, 62, 90, 110, 90,  //
                                     10, 0, 0, 200, 200, 90,   //
                                     10, 8, 4, 100, 100, 90},
                                    torch::kInt64)
                          .reshape({1, 4, 6})
                          .expand({3, 4, 6});
  core::save_png(dir / "wide.png", levels.to(torch::kFloat).div(127.5).sub(1.0));
  ImageSourceOptions options;
  options.path = dir.path();
  options.resolution = 2;
  LabelledImages images = load_images(options);
  ASSERT_EQ(images.pixels.sizes(), (std::vector<int64_t>{1, 3, 2, 2}));
  // (20+30+40+62)/4 = 38, (50+70+90+110)/4 = 80, (0+0+8+4)/4 = 3, (200+200+100+100)/4 = 150.
  const at::Tensor expected = torch::tensor({38, 80, 3, 150}, torch::kUInt8).reshape({2, 2});
  for (int c = 0; c < 3; ++c) EXPECT_TRUE(torch::equal(images.pixels[0][c], expected)) << images.pixels[0][c];
}

TEST(ImageDataset, SkipsAndCountsAnUnreadableFile) {
  TempDir dir;
  for (int i = 0; i < 100; ++i) core::save_png(dir / fmt::format("img{:03d}.png", i), level_image(4, 4, i));
  test::write_bytes(dir / "img050x.png", "this is not a PNG");
  ImageSourceOptions options;
  options.path = dir.path();
  options.resolution = 4;
  LabelledImages images = load_images(options);
  EXPECT_EQ(images.skipped, 1);
  ASSERT_EQ(images.size(), 100);
  EXPECT_EQ(images.sources[50], (dir / "img050.png").string());
  EXPECT_EQ(images.sources[51], (dir / "img051.png").string());
  EXPECT_TRUE(torch::equal(images.pixels[51], levels_of(level_image(4, 4, 51))));
}

TEST(ImageDataset, MoreThanOnePercentUnreadableIsAnError) {
  TempDir dir;
  for (int i = 0; i < 10; ++i) core::save_png(dir / fmt::format("img{}.png", i), level_image(4, 4, i));
  test::write_bytes(dir / "bad1.png", "x");
  test::write_bytes(dir / "bad2.jpg", "y");
  ImageSourceOptions options;
  options.path = dir.path();
  options.resolution = 4;
  const std::string message = test::error_text<core::Error>([&] { load_images(options); });
  EXPECT_NE(message.find(dir.path().string() + ": 2 of 12 folder item(s) could not be read"), std::string::npos) << message;
}

TEST(ImageDataset, MissingFolderAndEmptyFolderNameThePath) {
  TempDir dir;
  ImageSourceOptions options;
  options.kind = "folder";
  options.path = dir / "nowhere";
  HDV_EXPECT_THROW_MSG(load_images(options), core::IoError, (dir / "nowhere").string() + ": no such folder");
  options.path = dir.path();
  HDV_EXPECT_THROW_MSG(load_images(options), core::FormatError, dir.path().string() + ": no images found");
  options.resolution = 0;
  HDV_EXPECT_THROW_MSG(load_images(options), core::ConfigError, "image source: resolution=0 must be in 1..4096");
}

TEST(ImageDataset, ReadsSynthVidKeyframesWithTheirClipsLabels) {
  const fs::path& root = tiny_synthvid();
  ImageSourceOptions options;
  options.path = root;  // kind "auto": synthvid.json is there
  options.split = "train";
  options.resolution = 32;
  options.frames_per_clip = 2;
  options.jobs = 2;
  LabelledImages images = load_images(options);
  ASSERT_EQ(images.size(), 16);
  EXPECT_EQ(images.pixels.sizes(), (std::vector<int64_t>{16, 3, 32, 32}));
  const std::vector<std::string> lines = read_lines(root / "train" / "labels.jsonl");
  ASSERT_EQ(lines.size(), 8u);
  for (size_t clip = 0; clip < 8; ++clip) {
    const core::Json expected = core::Json::parse(lines[clip]);
    EXPECT_EQ(images.labels[2 * clip], expected) << clip;
    EXPECT_EQ(images.labels[2 * clip + 1], expected) << clip;
  }
  // Frames 2 and 6 of 8 (the centres of two halves), from <split>/video_clips/<video_id>/<clip_id>.
  const fs::path clip3 = root / "train" / "video_clips" / "synth-train-000001" / "synth-train-000001.1.mp4";
  EXPECT_EQ(images.labels[6]["clip_id"], "synth-train-000001.1.mp4");
  EXPECT_EQ(images.sources[6], clip3.string() + "#2");
  EXPECT_EQ(images.sources[7], clip3.string() + "#6");
  core::VideoReader reader(clip3);
  const at::Tensor frames = reader.read_frames({2, 6});
  EXPECT_TRUE(torch::equal(images.pixels[6], levels_of(frames[0])));
  EXPECT_TRUE(torch::equal(images.pixels[7], levels_of(frames[1])));

  // Smaller than the video: resized; one frame per clip is the middle one; limit keeps the first.
  options.resolution = 16;
  options.frames_per_clip = 1;
  options.limit = 5;
  LabelledImages small = load_images(options);
  EXPECT_EQ(small.pixels.sizes(), (std::vector<int64_t>{5, 3, 16, 16}));
  EXPECT_EQ(small.sources[3], clip3.string() + "#4");
  EXPECT_EQ(small.labels[4], core::Json::parse(lines[4]));
}

TEST(ImageDataset, SynthVidOutputIsTheSameForAnyThreadCount) {
  ImageSourceOptions options;
  options.kind = "synthvid";
  options.path = tiny_synthvid();
  options.resolution = 24;
  options.frames_per_clip = 3;
  options.jobs = 1;
  LabelledImages one = load_images(options);
  options.jobs = 3;
  LabelledImages three = load_images(options);
  EXPECT_TRUE(torch::equal(one.pixels, three.pixels));
  EXPECT_EQ(one.sources, three.sources);
  EXPECT_EQ(one.labels, three.labels);
}

TEST(ImageDataset, MalformedLabelsLineNamesFileAndLine) {
  TempDir dir;
  fs::copy(tiny_synthvid(), dir.path(), fs::copy_options::recursive);
  const fs::path labels = dir / "train" / "labels.jsonl";
  std::vector<std::string> lines = read_lines(labels);
  lines[2] = "{\"clip_id\": \"synth-train-000001.0.mp4\", \"objects\": [";
  std::ofstream(labels) << lines[0] << "\n" << lines[1] << "\n" << lines[2] << "\n";
  ImageSourceOptions options;
  options.path = dir.path();
  HDV_EXPECT_THROW_MSG(load_images(options), core::FormatError, labels.string() + ":3: invalid JSON");
  std::ofstream(labels) << lines[0] << "\n{\"clip_id\": \"x.mp4\", \"objects\": []}\n";
  HDV_EXPECT_THROW_MSG(load_images(options), core::FormatError,
                       labels.string() + ":2: field \"clip_id\": \"x.mp4\" is not of the form <video_id>.<k>.<ext>");
  std::ofstream(labels) << "{\"objects\": []}\n";
  HDV_EXPECT_THROW_MSG(load_images(options), core::FormatError, labels.string() + ":1: field \"clip_id\"");
  fs::remove(labels);
  options.kind = "synthvid";
  HDV_EXPECT_THROW_MSG(load_images(options), core::IoError, labels.string() + ": no such file");
}

TEST(ImageDataset, ReadsFashionMnistAsThreeChannelImagesWithTheirClass) {
  ImageSourceOptions options;
  options.path = std::string(kDefaultFashionMnistDir);
  options.split = "train";
  options.resolution = 28;
  options.limit = 300;  // crosses a decoding block (256 garments)
  LabelledImages images = load_images(options);
  ASSERT_EQ(images.pixels.sizes(), (std::vector<int64_t>{300, 3, 28, 28}));
  const FashionMnist raw = load_fashion_mnist(options.path, FashionMnistPart::Train);
  for (int64_t i : {0, 1, 255, 256, 299}) {
    const at::Tensor expected =
        torch::from_blob(const_cast<uint8_t*>(raw.image(i)), {28, 28}, torch::kUInt8).clone();
    for (int c = 0; c < 3; ++c) EXPECT_TRUE(torch::equal(images.pixels[i][c], expected)) << i;
    EXPECT_EQ(images.labels[static_cast<size_t>(i)]["objects"][0]["class"],
              std::string(kFashionMnistClassNames[raw.labels[static_cast<size_t>(i)]]));
  }
  EXPECT_EQ(images.labels[0]["objects"][0]["class"], "ankle boot");  // the file's first garment
  options.resolution = 56;
  options.limit = 2;
  EXPECT_EQ(load_images(options).pixels.sizes(), (std::vector<int64_t>{2, 3, 56, 56}));
}

TEST(ImageDataset, BatchIsInMinusOneToOneAndMirrorsOnRequest) {
  LabelledImages images;
  images.pixels = torch::tensor({0, 255, 51, 102}, torch::kUInt8).reshape({1, 1, 1, 4}).expand({2, 3, 1, 4}).contiguous();
  images.labels.resize(2);
  at::Tensor batch = image_batch(images, {1, 0, 1});
  ASSERT_EQ(batch.sizes(), (std::vector<int64_t>{3, 3, 1, 4}));
  const at::Tensor row = torch::tensor({-1.0f, 1.0f, 51 / 127.5f - 1, 102 / 127.5f - 1});
  EXPECT_TRUE(torch::allclose(batch[2][1][0], row));
  torch::manual_seed(0);
  at::Tensor mirrored = image_batch(images, std::vector<int64_t>(64, 0), /*hflip=*/true);
  int64_t flipped = 0;
  for (int64_t b = 0; b < 64; ++b) {
    const bool same = torch::allclose(mirrored[b][0][0], row);
    const bool reversed = torch::allclose(mirrored[b][0][0], row.flip({0}));
    EXPECT_TRUE(same || reversed) << b;
    flipped += reversed ? 1 : 0;
  }
  EXPECT_GT(flipped, 10);
  EXPECT_LT(flipped, 54);
  HDV_EXPECT_THROW_MSG(image_batch(images, {2}), core::Error, "image_batch: index 2 outside 0..1");
}

}  // namespace
}  // namespace hdv::train
