// Fashion-MNIST reader: the real 28x28 garment images SynthVid draws its objects from.
//
// Reference: Xiao, Rasul & Vollgraf, "Fashion-MNIST" (2017), github.com/zalandoresearch/
// fashion-mnist; the IDX format of LeCun's MNIST page. Debian's dataset-fashion-mnist installs the
// four original gzip files in /usr/share/datasets/fashion-mnist/:
//   train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz   60,000 images
//   t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz    10,000 images
// IDX: big-endian int32 magic (2051 images / 2049 labels), int32 count, for images int32 rows and
// cols (28, 28), then one unsigned byte per pixel (row-major, 0 = background) or per label (0..9).
// Files are read through zlib, which also reads uncompressed IDX files as they are.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

namespace hdv::train {

inline constexpr int kFashionMnistSide = 28;     // pixels per row and per column
inline constexpr int kFashionMnistClasses = 10;  // labels 0..9
inline constexpr uint32_t kIdxImagesMagic = 2051;  // idx3-ubyte: unsigned bytes, 3 dimensions
inline constexpr uint32_t kIdxLabelsMagic = 2049;  // idx1-ubyte: unsigned bytes, 1 dimension

// Class names in label order (Fashion-MNIST's README, lower case).
inline constexpr std::array<std::string_view, kFashionMnistClasses> kFashionMnistClassNames = {
    "t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"};

// Where Debian's dataset-fashion-mnist puts the files.
inline constexpr std::string_view kDefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// One part of the dataset: images with their labels, and the images of each class.
struct FashionMnist {
  std::vector<uint8_t> pixels;  // [count, 28, 28] row-major; 0 = background, 255 = brightest
  std::vector<uint8_t> labels;  // [count], each 0..9
  std::array<std::vector<int32_t>, kFashionMnistClasses> by_class;  // image indices of each label

  int64_t count() const { return static_cast<int64_t>(labels.size()); }
  // 28 * 28 pixels of image `index`.
  const uint8_t* image(int64_t index) const { return pixels.data() + index * kFashionMnistSide * kFashionMnistSide; }
};

// The images of an idx3-ubyte file, 28x28 each -> [count * 784] bytes. Throws core::IoError when the
// file cannot be opened or decompressed, core::FormatError naming the file and the field (magic
// number, image count, rows, cols, pixel data, trailing data) with expected and found values.
std::vector<uint8_t> read_idx_images(const std::filesystem::path& path, int64_t* count);

// The labels of an idx1-ubyte file (each checked to be 0..9); errors as read_idx_images.
std::vector<uint8_t> read_idx_labels(const std::filesystem::path& path);

// An images file with its labels file; their counts must match.
FashionMnist read_fashion_mnist(const std::filesystem::path& images_path, const std::filesystem::path& labels_path);

enum class FashionMnistPart { Train, Test };  // train-* (60,000) or t10k-* (10,000)

// The part from `dir` holding the four files under their original names.
FashionMnist load_fashion_mnist(const std::filesystem::path& dir, FashionMnistPart part);

}  // namespace hdv::train
