// Fréchet distance between two sets of feature vectors (Heusel et al. 2017, the formula behind
// FID): each set summarised by its mean μ and covariance Σ,
//   d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½),
// with the square roots of the symmetric positive semi-definite matrices taken through their
// eigen-decomposition (torch::linalg_eigh; eigenvalues below 0 from rounding clamp to 0).
//
// "VL-FD" is this distance on our own VL model's image embeddings (models::VLModelImpl::
// encode_image, unit-length vectors). It is NOT Inception FID: there are no Inception weights
// offline, the numbers are not comparable with published FIDs, and they depend on the VL model
// used — compare VL-FD values only between runs measured with the same VL model file.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "core/progress.h"

namespace hdv::models {
class VLModelImpl;
}

namespace hdv::train {

struct FeatureStatistics {
  at::Tensor mean;        // float64 [D]
  at::Tensor covariance;  // float64 [D, D] (unbiased, divides by N − 1)
  int64_t count = 0;      // vectors summarised
};

// features: [N, D] with N >= 2 (any float dtype, any device; statistics are float64 on the CPU).
FeatureStatistics feature_statistics(const at::Tensor& features);

// Symmetric PSD matrix [D, D] -> its symmetric PSD square root (via eigh).
at::Tensor sqrtm_psd(const at::Tensor& matrix);

// d² between the two Gaussians (≥ 0; tiny negative rounding is clamped to 0).
double frechet_distance(const FeatureStatistics& a, const FeatureStatistics& b);

// The VL model's image embeddings of `images` (float [N, 3, H, W] in [-1, 1]; resized bilinearly
// to `size` × `size` when they differ), in batches on the model's device. -> float [N, embed_dim]
at::Tensor vl_image_features(models::VLModelImpl& model, const at::Tensor& images, int64_t size, int64_t batch = 32,
                             const core::ProgressCallback& progress = {});

}  // namespace hdv::train
