// Still images <-> float tensors [C, H, W] in [-1, 1].
//
// Reads PNG, JPEG and BMP (and the other formats stb_image knows) through Debian's libstb; writes
// PNG atomically. Channel order is RGB (RGBA with 4 channels, grey with 1).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace hdv::core {

// Images with more pixels are refused before decoding: a header of a few bytes can claim 65535 x
// 65535 pixels, which would take gigabytes as float tensors. 4096 x 4096 is far above any model's size.
constexpr int64_t kMaxImagePixels = int64_t(4096) * 4096;

// channels: 1 (grey), 3 (RGB) or 4 (RGBA); the file is converted as needed. Throws IoError for a
// missing file, FormatError naming the file for anything it cannot decode or above kMaxImagePixels.
at::Tensor load_image(const std::filesystem::path& path, int channels = 3);

// Decodes an image held in memory (same formats). `source` names it in errors.
at::Tensor decode_image(const void* data, size_t size, const std::string& source, int channels = 3);

// image: [C, H, W] with C in {1, 3, 4}, values in [-1, 1] (clamped), any float dtype or device.
void save_png(const std::filesystem::path& path, const at::Tensor& image);

// Float [C, H, W] in [-1, 1] -> uint8 [H, W, C] in [0, 255] (rounded, clamped), on the CPU.
at::Tensor to_uint8_hwc(const at::Tensor& image);
// uint8 [H, W, C] -> float [C, H, W] in [-1, 1].
at::Tensor from_uint8_hwc(const at::Tensor& pixels);

}  // namespace hdv::core
