// upfirdn2d in plain LibTorch ops (see upfirdn.h).
#include "generation/upfirdn.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "core/shape_text.h"

namespace hdv::gen {

at::Tensor fir_kernel_1331() {
  at::Tensor taps = torch::tensor({1.0f, 3.0f, 3.0f, 1.0f});
  at::Tensor kernel = torch::outer(taps, taps);
  return kernel / kernel.sum();
}

at::Tensor upfirdn2d(const at::Tensor& x, const at::Tensor& kernel, int64_t up, int64_t down, int64_t pad0,
                     int64_t pad1, double gain) {
  if (x.dim() != 4) throw core::Error(fmt::format("upfirdn2d: x has shape {}, expected [N, C, H, W]", core::shape_text(x.sizes())));
  if (kernel.dim() != 2) throw core::Error(fmt::format("upfirdn2d: kernel has shape {}, expected [kh, kw]", core::shape_text(kernel.sizes())));
  if (up < 1 || down < 1) throw core::Error(fmt::format("upfirdn2d: up={} and down={} must be >= 1", up, down));
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  at::Tensor y = x;
  if (up > 1) {
    // Zero insertion: [N, C, H, 1, W, 1] padded to [N, C, H, up, W, up].
    y = y.reshape({n, c, h, 1, w, 1});
    y = torch::nn::functional::pad(y, torch::nn::functional::PadFuncOptions({0, up - 1, 0, 0, 0, up - 1}));
    y = y.reshape({n, c, h * up, w * up});
  }
  // Positive pads add zeros; negative pads crop.
  y = torch::nn::functional::pad(y, torch::nn::functional::PadFuncOptions(
                                        {std::max<int64_t>(pad0, 0), std::max<int64_t>(pad1, 0),
                                         std::max<int64_t>(pad0, 0), std::max<int64_t>(pad1, 0)}));
  if (pad0 < 0 || pad1 < 0) {
    const int64_t crop0 = std::max<int64_t>(-pad0, 0), crop1 = std::max<int64_t>(-pad1, 0);
    y = y.slice(2, crop0, y.size(2) - crop1).slice(3, crop0, y.size(3) - crop1);
  }
  // Depthwise convolution with the flipped kernel = true convolution.
  at::Tensor f = (kernel * gain).to(y.scalar_type()).to(y.device()).flip({0, 1});
  f = f.reshape({1, 1, f.size(0), f.size(1)}).repeat({c, 1, 1, 1});
  y = torch::conv2d(y, f, at::Tensor(), 1, 0, 1, c);
  if (down > 1) y = y.slice(2, 0, c10::nullopt, down).slice(3, 0, c10::nullopt, down);
  return y;
}

at::Tensor upsample2d(const at::Tensor& x, const at::Tensor& kernel) {
  const int64_t taps = kernel.size(0);
  return upfirdn2d(x, kernel, 2, 1, (taps + 1) / 2, (taps - 2) / 2, 4.0);
}

at::Tensor downsample2d(const at::Tensor& x, const at::Tensor& kernel) {
  const int64_t taps = kernel.size(0);
  return upfirdn2d(x, kernel, 1, 2, (taps - 1) / 2, (taps - 2) / 2);
}

}  // namespace hdv::gen
