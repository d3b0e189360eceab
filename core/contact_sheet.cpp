#include "core/contact_sheet.h"

#include <torch/torch.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"
#include "core/shape_text.h"

namespace hdv::core {

namespace F = torch::nn::functional;

at::Tensor fit_to_cell(const at::Tensor& image, int64_t cell) {
  const int64_t h = image.size(1), w = image.size(2), side = std::max(h, w);
  at::Tensor x = image.detach().to(torch::kCPU, torch::kFloat32).unsqueeze(0);
  if (side <= cell) {
    const int64_t factor = cell / side;
    if (factor > 1) x = F::interpolate(x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{double(factor), double(factor)}).mode(torch::kNearest));
  } else {
    const int64_t out_h = std::max<int64_t>(1, h * cell / side), out_w = std::max<int64_t>(1, w * cell / side);
    x = F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<int64_t>{out_h, out_w}).mode(torch::kArea));
  }
  return x[0];
}

at::Tensor contact_sheet(const std::vector<std::vector<at::Tensor>>& rows, int64_t cell, int64_t gutter) {
  if (cell < 1) throw Error(fmt::format("contact sheet: cell={} must be >= 1", cell));
  size_t cols = 0;
  for (const auto& row : rows) cols = std::max(cols, row.size());
  if (rows.empty() || cols == 0) throw Error("contact sheet: no images to lay out");
  const int64_t pitch = cell + gutter;
  at::Tensor sheet = torch::full({3, int64_t(rows.size()) * pitch + gutter, int64_t(cols) * pitch + gutter}, -0.8);
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const at::Tensor& image = rows[r][c];
      if (image.dim() != 3 || image.size(0) != 3) {
        throw Error(fmt::format("contact sheet: image {},{} is {}, expected [3, H, W]", r, c, shape_text(image.sizes())));
      }
      at::Tensor fitted = fit_to_cell(image, cell);
      const int64_t top = gutter + int64_t(r) * pitch + (cell - fitted.size(1)) / 2;
      const int64_t left = gutter + int64_t(c) * pitch + (cell - fitted.size(2)) / 2;
      sheet.narrow(1, top, fitted.size(1)).narrow(2, left, fitted.size(2)).copy_(fitted);
    }
  }
  return sheet;
}

}  // namespace hdv::core
