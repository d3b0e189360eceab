// Contact sheets: images laid out in rows on one canvas, for looking at many results at once
// (`hdvila-train frames`, `hdvila-generate`'s contact_sheet.png).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace hdv::core {

// image [3, H, W] fitted into a cell×cell square, aspect kept: enlarged by an integer factor with
// nearest neighbour, or reduced with area averaging. Callers that collect many images for one
// sheet can fit each as it comes and keep only the small tile.
at::Tensor fit_to_cell(const at::Tensor& image, int64_t cell);

// rows[r][c]: image [3, H, W] in [-1, 1], any size. Each is fitted into a cell×cell square
// (enlarged by an integer factor with nearest neighbour so small inputs keep their pixels
// visible, reduced with area averaging), centred; rows may differ in length. Cells are separated
// by a `gutter`-pixel dark border. Returns [3, rows·(cell+gutter)+gutter, max_cols·(cell+gutter)+gutter].
// Throws Error for an empty layout, a non-positive cell or an image that is not [3, H, W].
at::Tensor contact_sheet(const std::vector<std::vector<at::Tensor>>& rows, int64_t cell, int64_t gutter = 2);

}  // namespace hdv::core
