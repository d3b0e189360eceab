// Up-sample, FIR-filter, down-sample in plain LibTorch ops: the resampling of StyleGAN2.
//
// Reference: NVlabs stylegan2-ada-pytorch `torch_utils/ops/upfirdn2d.py` (`_upfirdn2d_ref`,
// `upsample2d`, `downsample2d`, `setup_filter`): insert up−1 zeros between pixels, pad (negative
// pads crop), convolve with the 2-D FIR kernel, keep every down-th pixel. The kernel is applied
// as a true convolution (flipped), which for the symmetric [1,3,3,1] kernel is the same thing.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace hdv::gen {

// The separable [1,3,3,1] low-pass of StyleGAN2 as a 2-D kernel [4, 4], normalised to sum 1.
at::Tensor fir_kernel_1331();

// x: [N, C, H, W], kernel: [kh, kw] -> [N, C, (H·up + pad0 + pad1 − kh)/down + 1, ...];
// pad0/pad1 pad both axes before/after (after zero insertion); `gain` multiplies the kernel.
at::Tensor upfirdn2d(const at::Tensor& x, const at::Tensor& kernel, int64_t up, int64_t down, int64_t pad0,
                     int64_t pad1, double gain = 1.0);

// ×2 up-sampling with the kernel (gain 4, pads 2/1 for a 4-tap kernel): [N, C, H, W] -> [N, C, 2H, 2W].
at::Tensor upsample2d(const at::Tensor& x, const at::Tensor& kernel);
// ×2 down-sampling with the kernel (pads 1/1 for a 4-tap kernel): [N, C, H, W] -> [N, C, H/2, W/2].
at::Tensor downsample2d(const at::Tensor& x, const at::Tensor& kernel);

}  // namespace hdv::gen
