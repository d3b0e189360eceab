// Image I/O through stb_image / stb_image_write (see image_io.h).
#include "core/image_io.h"

#include <torch/torch.h>

#include <stb_image.h>
#include <stb_image_write.h>

#include <fmt/format.h>

#include "core/atomic_file.h"
#include "core/error.h"

namespace hdv::core {
namespace {

void check_channels(int channels, const std::string& what) {
  if (channels != 1 && channels != 3 && channels != 4) {
    throw Error(fmt::format("{}: channels must be 1, 3 or 4, got {}", what, channels));
  }
}

}  // namespace

at::Tensor from_uint8_hwc(const at::Tensor& pixels) {
  return pixels.permute({2, 0, 1}).to(torch::kFloat32).div(127.5).sub(1.0).contiguous();
}

at::Tensor to_uint8_hwc(const at::Tensor& image) {
  if (image.dim() != 3) {
    throw Error(fmt::format("image: expected 3 dims [C, H, W], got {} dims", image.dim()));
  }
  int64_t c = image.size(0);
  if (c != 1 && c != 3 && c != 4) throw Error(fmt::format("image: dim 0 got {}, expected 1, 3 or 4 channels", c));
  if (!image.is_floating_point()) {
    throw Error(fmt::format("image: expected a floating-point tensor in [-1, 1], got {}", c10::toString(image.scalar_type())));
  }
  return image.detach().to(torch::kCPU, torch::kFloat32).add(1.0).mul(127.5).round().clamp(0, 255)
      .to(torch::kUInt8).permute({1, 2, 0}).contiguous();
}

at::Tensor decode_image(const void* data, size_t size, const std::string& source, int channels) {
  check_channels(channels, source);
  if (size > size_t(INT32_MAX)) throw FormatError(fmt::format("{}: image file too large ({} bytes)", source, size));
  int width = 0, height = 0, found = 0;
  if (stbi_info_from_memory(static_cast<const stbi_uc*>(data), static_cast<int>(size), &width, &height, &found) != 0 &&
      int64_t(width) * height > kMaxImagePixels) {
    throw FormatError(fmt::format("{}: image of {} x {} pixels exceeds the limit of {} pixels (4096 x 4096)", source,
                                  width, height, kMaxImagePixels));
  }
  stbi_uc* pixels = stbi_load_from_memory(static_cast<const stbi_uc*>(data), static_cast<int>(size), &width,
                                          &height, &found, channels);
  if (pixels == nullptr) {
    const char* reason = stbi_failure_reason();
    throw FormatError(fmt::format("{}: cannot decode image ({}); expected PNG, JPEG or BMP", source,
                                  reason != nullptr ? reason : "unknown reason"));
  }
  if (int64_t(width) * height > kMaxImagePixels) {  // a format stbi_info cannot size up front
    stbi_image_free(pixels);
    throw FormatError(fmt::format("{}: image of {} x {} pixels exceeds the limit of {} pixels (4096 x 4096)", source,
                                  width, height, kMaxImagePixels));
  }
  at::Tensor hwc = torch::from_blob(pixels, {height, width, channels}, torch::kUInt8).clone();
  stbi_image_free(pixels);
  return from_uint8_hwc(hwc);
}

at::Tensor load_image(const std::filesystem::path& path, int channels) {
  std::string bytes = read_file(path);
  if (bytes.empty()) throw FormatError(fmt::format("{}: cannot decode image (the file is empty)", path.string()));
  return decode_image(bytes.data(), bytes.size(), path.string(), channels);
}

void save_png(const std::filesystem::path& path, const at::Tensor& image) {
  at::Tensor hwc;
  try {
    hwc = to_uint8_hwc(image);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", path.string(), e.what()));
  }
  const int height = static_cast<int>(hwc.size(0)), width = static_cast<int>(hwc.size(1));
  const int channels = static_cast<int>(hwc.size(2));
  if (width == 0 || height == 0) throw Error(fmt::format("{}: cannot save an empty image", path.string()));
  std::string encoded;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
  };
  if (stbi_write_png_to_func(append, &encoded, width, height, channels, hwc.data_ptr(), width * channels) == 0) {
    throw Error(fmt::format("{}: PNG encoding failed", path.string()));
  }
  write_file_atomic(path, encoded);
}

}  // namespace hdv::core
