// CUDA checks (label cuda): run on a GPU machine by scripts/gpu_check.sh; skip with a message
// elsewhere.
#include <torch/torch.h>

#include <gtest/gtest.h>

#include "core/device.h"
#include "core/safetensors.h"
#include "test_support.h"

namespace hdv::core {
namespace {

class Cuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device visible to LibTorch on this machine";
  }
};

TEST_F(Cuda, ResolvesDevicesAndComputes) {
  c10::Device device = resolve_device("cuda");
  ASSERT_TRUE(device.is_cuda());
  EXPECT_TRUE(resolve_device("auto").is_cuda());
  at::Tensor a = torch::randn({256, 256}, torch::TensorOptions().device(device));
  at::Tensor cpu = a.cpu();
  EXPECT_LT((a.matmul(a).cpu() - cpu.matmul(cpu)).abs().max().item<float>(), 1e-2);
}

TEST_F(Cuda, SafetensorsWritesFromAndLoadsToTheGpu) {
  test::TempDir dir;
  at::Tensor gpu = torch::arange(12, torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA)).reshape({3, 4});
  write_safetensors(dir / "g.safetensors", {{"g", gpu}});
  SafetensorsFile file = SafetensorsFile::open(dir / "g.safetensors");
  at::Tensor back = file.tensor("g").to(torch::kCUDA);
  EXPECT_TRUE(torch::equal(back, gpu));
}

}  // namespace
}  // namespace hdv::core
