// A simple image distribution for GAN tests: a solid square of one of three colours on black, of
// side R/4 .. R/2 at a uniformly random position (seeded, no files).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <random>

#include "training/image_dataset.h"

namespace hdv::test {

inline train::LabelledImages square_images(int64_t count, int64_t resolution, uint32_t seed) {
  std::mt19937 rng(seed);
  const uint8_t colours[3][3] = {{230, 40, 40}, {40, 200, 60}, {50, 80, 230}};
  train::LabelledImages images;
  images.pixels = torch::zeros({count, 3, resolution, resolution}, torch::kUInt8);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t side = resolution / 4 + int64_t(rng() % uint32_t(resolution / 4 + 1));
    const int64_t y = int64_t(rng() % uint32_t(resolution - side + 1));
    const int64_t x = int64_t(rng() % uint32_t(resolution - side + 1));
    const auto* colour = colours[rng() % 3];
    for (int64_t c = 0; c < 3; ++c) {
      images.pixels[i][c].narrow(0, y, side).narrow(1, x, side).fill_(int64_t(colour[c]));
    }
    images.labels.emplace_back(core::Json::object());
    images.sources.push_back("square#" + std::to_string(i));
  }
  return images;
}

}  // namespace hdv::test
