// Fashion-MNIST IDX reader (see fashion_mnist.h for the format).
#include "training/fashion_mnist.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "core/error.h"

namespace hdv::train {
namespace {

// Largest count we accept from a header: a corrupt count fails here instead of in a huge read.
constexpr int64_t kMaxCount = 10'000'000;

// A gzip (or plain) file read through zlib; every error names the file.
class GzFile {
 public:
  explicit GzFile(const std::filesystem::path& path) : path_(path.string()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      throw core::IoError(fmt::format("{}: no such file (Fashion-MNIST IDX file; Debian package "
                                      "dataset-fashion-mnist installs them in {})",
                                      path_, kDefaultFashionMnistDir));
    }
    file_ = gzopen(path_.c_str(), "rb");
    if (file_ == nullptr) {
      throw core::IoError(fmt::format("{}: cannot open: {}", path_, std::strerror(errno)));
    }
    gzbuffer(file_, 1 << 17);
  }
  ~GzFile() {
    if (file_ != nullptr) gzclose_r(file_);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  const std::string& path() const { return path_; }

  // Reads up to `size` bytes into `data`; returns how many arrived (fewer only at end of file).
  size_t read(void* data, size_t size) {
    size_t done = 0;
    while (done < size) {
      auto chunk = static_cast<unsigned>(std::min<size_t>(size - done, 1u << 30));
      int got = gzread(file_, static_cast<char*>(data) + done, chunk);
      if (got < 0) fail();
      if (got == 0) {
        // gzread also returns 0 on a stream that ends mid-way; gzerror tells the two apart.
        int code = Z_OK;
        gzerror(file_, &code);
        if (code != Z_OK) fail();
        break;
      }
      done += static_cast<size_t>(got);
    }
    return done;
  }

  // Reads a big-endian uint32 header field; FormatError when the header is cut short.
  uint32_t read_u32(std::string_view field) {
    unsigned char bytes[4];
    size_t got = read(bytes, 4);
    if (got != 4) {
      throw core::FormatError(
          fmt::format("{}: IDX header field {}: expected 4 bytes, found {} (file truncated)", path_, field, got));
    }
    return (uint32_t(bytes[0]) << 24) | (uint32_t(bytes[1]) << 16) | (uint32_t(bytes[2]) << 8) | uint32_t(bytes[3]);
  }

  // Reads exactly `count` payload bytes (in chunks, so a corrupt header cannot force a huge
  // allocation before the data is seen), then checks that nothing follows them.
  std::vector<uint8_t> read_payload(size_t count, std::string_view what) {
    std::vector<uint8_t> data;
    constexpr size_t kChunk = size_t(1) << 22;
    while (data.size() < count) {
      size_t want = std::min(kChunk, count - data.size());
      size_t old = data.size();
      data.resize(old + want);
      size_t got = read(data.data() + old, want);
      if (got < want) {
        throw core::FormatError(fmt::format("{}: {}: expected {} bytes, found {} (file truncated)", path_, what,
                                            count, old + got));
      }
    }
    unsigned char extra = 0;
    if (read(&extra, 1) != 0) {
      throw core::FormatError(
          fmt::format("{}: expected the file to end after {} bytes of {}, found more data", path_, count, what));
    }
    return data;
  }

 private:
  [[noreturn]] void fail() {
    int code = Z_OK;
    const char* message = gzerror(file_, &code);
    if (code == Z_ERRNO) throw core::IoError(fmt::format("{}: read failed: {}", path_, std::strerror(errno)));
    throw core::FormatError(fmt::format("{}: gzip stream: {}", path_, message != nullptr ? message : "corrupt data"));
  }

  std::string path_;
  gzFile file_ = nullptr;
};

void expect_magic(GzFile& file, uint32_t expected, std::string_view kind) {
  uint32_t magic = file.read_u32("magic number");
  if (magic != expected) {
    throw core::FormatError(fmt::format("{}: IDX header field magic number: expected {} ({}), found {}", file.path(),
                                        expected, kind, magic));
  }
}

int64_t read_count(GzFile& file, std::string_view what) {
  uint32_t count = file.read_u32(what);
  if (count > kMaxCount) {
    throw core::FormatError(
        fmt::format("{}: IDX header field {}: expected at most {}, found {}", file.path(), what, kMaxCount, count));
  }
  return count;
}

}  // namespace

std::vector<uint8_t> read_idx_images(const std::filesystem::path& path, int64_t* count) {
  GzFile file(path);
  expect_magic(file, kIdxImagesMagic, "idx3-ubyte images");
  int64_t images = read_count(file, "image count");
  for (std::string_view field : {"rows", "cols"}) {
    uint32_t side = file.read_u32(field);
    if (side != kFashionMnistSide) {
      throw core::FormatError(fmt::format("{}: IDX header field {}: expected {} (Fashion-MNIST images are {}x{}), found {}",
                                          file.path(), field, kFashionMnistSide, kFashionMnistSide, kFashionMnistSide,
                                          side));
    }
  }
  constexpr size_t kImageBytes = size_t(kFashionMnistSide) * kFashionMnistSide;
  std::vector<uint8_t> pixels =
      file.read_payload(static_cast<size_t>(images) * kImageBytes, fmt::format("pixel data ({} images of 28x28)", images));
  if (count != nullptr) *count = images;
  return pixels;
}

std::vector<uint8_t> read_idx_labels(const std::filesystem::path& path) {
  GzFile file(path);
  expect_magic(file, kIdxLabelsMagic, "idx1-ubyte labels");
  int64_t count = read_count(file, "label count");
  std::vector<uint8_t> labels = file.read_payload(static_cast<size_t>(count), fmt::format("label data ({} labels)", count));
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= kFashionMnistClasses) {
      throw core::FormatError(fmt::format("{}: label {}: expected 0..{}, found {}", file.path(), i,
                                          kFashionMnistClasses - 1, labels[i]));
    }
  }
  return labels;
}

FashionMnist read_fashion_mnist(const std::filesystem::path& images_path, const std::filesystem::path& labels_path) {
  FashionMnist data;
  int64_t images = 0;
  data.pixels = read_idx_images(images_path, &images);
  data.labels = read_idx_labels(labels_path);
  if (data.count() != images) {
    throw core::FormatError(fmt::format("{}: expected {} labels, one per image of {}, found {}", labels_path.string(),
                                        images, images_path.string(), data.count()));
  }
  for (int64_t i = 0; i < data.count(); ++i) data.by_class[data.labels[i]].push_back(static_cast<int32_t>(i));
  return data;
}

FashionMnist load_fashion_mnist(const std::filesystem::path& dir, FashionMnistPart part) {
  const char* prefix = part == FashionMnistPart::Train ? "train" : "t10k";
  return read_fashion_mnist(dir / fmt::format("{}-images-idx3-ubyte.gz", prefix),
                            dir / fmt::format("{}-labels-idx1-ubyte.gz", prefix));
}

}  // namespace hdv::train
