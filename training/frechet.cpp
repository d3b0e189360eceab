// Fréchet distance between feature sets and the VL-model features it is measured on (frechet.h).
#include "training/frechet.h"

#include <torch/torch.h>

#include <chrono>

#include <fmt/format.h>

#include "core/error.h"
#include "core/shape_text.h"
#include "models/vl_model.h"

namespace hdv::train {

FeatureStatistics feature_statistics(const at::Tensor& features) {
  if (!features.defined() || features.dim() != 2 || features.size(0) < 2) {
    throw core::Error(fmt::format("feature statistics: features {}, expected [N >= 2, D]",
                                  features.defined() ? core::shape_text(features.sizes()) : "undefined"));
  }
  at::Tensor x = features.detach().to(torch::kCPU, torch::kFloat64);
  FeatureStatistics stats;
  stats.count = x.size(0);
  stats.mean = x.mean(0);
  at::Tensor centred = x - stats.mean;
  stats.covariance = centred.t().matmul(centred) / double(stats.count - 1);
  return stats;
}

at::Tensor sqrtm_psd(const at::Tensor& matrix) {
  at::Tensor symmetric = 0.5 * (matrix + matrix.t());
  auto [values, vectors] = torch::linalg_eigh(symmetric);
  return (vectors * values.clamp_min(0).sqrt().unsqueeze(0)).matmul(vectors.t());
}

double frechet_distance(const FeatureStatistics& a, const FeatureStatistics& b) {
  if (a.mean.numel() != b.mean.numel()) {
    throw core::Error(fmt::format("Fréchet distance: feature widths differ ({} vs {})", a.mean.numel(), b.mean.numel()));
  }
  const double mean_term = (a.mean - b.mean).square().sum().item<double>();
  at::Tensor root_a = sqrtm_psd(a.covariance);
  at::Tensor inner = root_a.matmul(b.covariance).matmul(root_a);  // Σ₁^½ Σ₂ Σ₁^½, symmetric PSD
  at::Tensor inner_values = torch::linalg_eigvalsh(0.5 * (inner + inner.t()));
  const double cross = inner_values.clamp_min(0).sqrt().sum().item<double>();
  const double d2 = mean_term + a.covariance.trace().item<double>() + b.covariance.trace().item<double>() - 2.0 * cross;
  return std::max(d2, 0.0);
}

at::Tensor vl_image_features(models::VLModelImpl& model, const at::Tensor& images, int64_t size, int64_t batch,
                             const core::ProgressCallback& progress) {
  if (!images.defined() || images.dim() != 4 || images.size(1) != 3) {
    throw core::Error(fmt::format("VL features: images {}, expected [N, 3, H, W]",
                                  images.defined() ? core::shape_text(images.sizes()) : "undefined"));
  }
  torch::NoGradGuard no_grad;
  const auto device = model.parameters().front().device();
  const int64_t n = images.size(0);
  const auto start = std::chrono::steady_clock::now();
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < n; i += batch) {
    at::Tensor x = images.narrow(0, i, std::min(batch, n - i)).to(device, torch::kFloat32);  // [b, 3, H, W]
    if (x.size(2) != size || x.size(3) != size) {
      namespace F = torch::nn::functional;
      x = F::interpolate(x, F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{size, size})
                                .mode(torch::kBilinear)
                                .align_corners(false))
              .clamp(-1, 1);
    }
    out.push_back(model.encode_image(x).to(torch::kCPU, torch::kFloat32));  // [b, embed_dim]
    if (progress) {
      progress(std::min(i + batch, n), n, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  return torch::cat(out);
}

}  // namespace hdv::train
