// Fuzz target: image decoding through the project's loader (core/image_io.h, decode_image, which
// load_image calls with the file's bytes). The input is an image file; it is decoded as RGB, and
// a picture that decodes must be [3, H, W] in [-1, 1].
#include <ATen/ATen.h>

#include "core/image_io.h"
#include "tests/fuzz/fuzz_target.h"

HDV_FUZZ_TARGET(image) {
  using namespace hdv;
  fuzz::expect_clean(
      [&] {
        const at::Tensor image = core::decode_image(data, size, "input.png", 3);
        if (image.dim() != 3 || image.size(0) != 3) fuzz::finding("decoded image is not [3, H, W]", "");
        if (image.numel() > 0 && (image.min().item<float>() < -1.0f || image.max().item<float>() > 1.0f)) {
          fuzz::finding("decoded values outside [-1, 1]", "");
        }
      },
      [&](const core::Error& e) { fuzz::check_names_input(e, "input.png"); });
  return 0;
}
